// English strings of the thread's cards (location, contacts, buttons), the composer's quick-reply buttons, the
// priority control and the simulator's location and contact card (spread into en.ts).
export default {
  cards: {
    location: "Shared location", openMap: "Open map", openMapOf: "Open map: {name}, on OpenStreetMap (new tab)",
    contact: "Contact card", noName: "No name", call: "Call {phone}", email: "Email {email}",
    buttons: "Buttons offered", chose: "chose: {title}",
  },
  quickReplies: {
    add: "Buttons", addLabel: "Add quick-reply buttons", heading: "Quick-reply buttons (up to {n})",
    title: "Button {n}", remove: "Remove button {n}", another: "Add a button", clear: "No buttons",
    hint: "The customer taps one; their choice comes back in the thread.",
    problems: {
      empty: "Give every button a title, or remove it.", tooLong: "A button title has at most {n} characters.",
      duplicate: "Two buttons have the same title.", tooMany: "At most {n} buttons.",
      withFiles: "Buttons cannot go with files: send the files in a reply of their own.",
      needsText: "Buttons go with a text: write the message they answer.",
    },
    unsupported: "This channel cannot send buttons: send the options as text.",
  },
  priorityControl: { label: "Set priority", changed: "Priority of ticket #{id} is now {name}." },
  simulateCards: {
    kinds: { location: "Shares a location", contacts: "Shares a contact card" },
    latitude: "Latitude", longitude: "Longitude", place: "Place name", address: "Address",
    contactName: "Contact name", contactPhone: "Contact phone", contactEmail: "Contact email",
    sample: "Empty fields: a sample is sent.",
  },
};
