// English strings of the contact panel's editing, merge, export and erase, and the inbox's queue / channel /
// agent filters (spread into en.ts).
export default {
  contactPanel: {
    attributes: "Custom attributes", noAttributes: "No custom attributes yet.", key: "Attribute (e.g. plan)",
    value: "Value", add: "Add", edit: "Edit", remove: "Remove", save: "Save", cancel: "Cancel",
    editAttr: "Edit {key}", removeAttr: "Remove {key}",
    badKey: "Use lower-case letters, digits and _ , starting with a letter (e.g. customer_since).",
    merge: "Merge…", mergeSearch: "Find the contact to merge into {name}", mergePlaceholder: "Name, phone or email",
    mergePick: "Contact to merge", mergeNone: "No other contact matches.",
    mergeConfirm: "{from} will be merged into {into}: their tickets, phones, emails and history move here. This cannot be undone.",
    mergeDo: "Merge", merged: "{from} was merged into {into}.",
    export: "Export data", exporting: "Preparing the export…", exported: "Export downloaded.",
    erase: "Erase…", eraseTitle: "Erase {name}?",
    eraseText: "Message text is anonymised and the phones, emails and profile are removed for good. This cannot be undone.",
    eraseDo: "Erase {name}", erasing: "Erasing…", erased: "The contact was erased.",
    jobFailed: "The job ended as {status}.",
  },
  filters: {
    label: "Filter tickets", queue: "Filter by queue", allQueues: "All queues", channel: "Filter by channel",
    allChannels: "All channels", channelN: "Channel #{id}", agent: "Filter by agent", allAgents: "All agents",
    clear: "Clear filters",
  },
  composerExtras: {
    emoji: "Insert an emoji", emojiList: "Emoji", attach: "Attach files", attached: "Files to send",
    removeFile: "Remove {name}", dropHere: "Drop the files to attach them", mentions: "Agents to mention",
  },
};
