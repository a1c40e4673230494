// English strings of the administration area (spread into en.ts as `admin`); admin.pt-BR.ts has the same keys.
export default {
  heading: "Administration", none: "None", edit: "Edit", delete: "Delete",
  tabs: { users: "Users", queues: "Queues", channels: "Channels", hours: "Business hours", sla: "SLA policies",
    canned: "Canned responses", labels: "Labels", keys: "API keys" },
  users: { new: "New user", password: "Password (8+ characters)" },
  queues: { grace: "Grace when offline (s)", returnOnOffline: "Return tickets when the agent goes offline",
    members: "Members", membersOf: "Members of {name}", saveMembers: "Save members" },
  channels: {
    explain: "Credentials are write-only: they are never shown again. Type one to replace it; every save with credentials is checked with the provider.",
    kinds: { whatsapp: "WhatsApp", sms: "SMS", email: "Email", sandbox: "Sandbox" },
    set: "credentials set", notSet: "credentials not set", queue: "Default queue", replace: "Replace credentials",
    keep: "unchanged", saveVerify: "Save and verify", createVerify: "Add and verify", new: "New channel",
    kind: "Kind", externalId: "Number, address or id", credentials: "Credentials",
    accepted: "Saved: the provider accepted the credentials.", refused: "Not saved: the provider refused the credentials ({reason}).",
    unavailable: "Not saved: the provider could not be asked; try again later ({reason}).",
  },
  hours: {
    tz: "Time zone", unset: "No business hours are set: SLA clocks run 24 hours a day, 7 days a week.",
    closed: "Closed", add: "Add hours", copy: "Copy Monday to Tuesday–Friday",
    opens: "{day}, opening {n}", closes: "{day}, closing {n}", remove: "Remove {day}, hours {n}",
    holidays: "Holidays (one date per line, YYYY-MM-DD)", badDates: "Not dates: {dates}",
    days: { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday" },
    problems: { order: "The end must be after the start.", overlap: "Overlaps other hours of this day.", empty: "Fill both times." },
  },
  sla: {
    first_response: "First response", next_response: "Next response", resolution: "Resolution", inMinutes: "min",
    minutes: "{n} min", anyQueue: "Any queue", anyPriority: "Any priority", none: "No policies yet.",
    new: "New policy", editing: "Editing “{name}”", noTarget: "no target", warning: "Warn at (% of the target)",
    escalateQueue: "On breach, move to queue", escalateAgent: "On breach, give to", escalatePriority: "On breach, raise the priority",
  },
  canned: {
    new: "New canned response", editing: "Editing /{code}", code: "Code (a-z, 0-9, _ - .)", title: "Title",
    body: "Text", scope: "For", scopes: { tenant: "Everyone", personal: "Only me" }, none: "No canned responses yet.",
    variables: "Variables you can use", confirmDelete: "Delete the canned response /{code}?",
  },
  labels: { new: "New label", color: "Colour", none: "No labels yet.", confirmDelete: "Delete the label “{name}”? It comes off every ticket and contact." },
  keys: {
    once: "The key “{name}”, shown only this once: copy it now.", copy: "Copy", copied: "Copied",
    prefix: "Key", scopes: "Scopes", lastUsed: "Last used", never: "never", revoked: "revoked", active: "active",
    revoke: "Revoke", none: "No API keys.", create: "Create key", confirmRevoke: "Revoke the key “{name}”? Integrations using it stop working at once.",
  },
};
