// English. Every key here exists in pt-BR.ts too (a unit test checks).
import admin from "./admin.en";
import board from "./board.en";
import contact from "./contact.en";
import mention from "./mention.en";
import quote from "./quote.en";
import thread from "./thread.en";
export default {
  ...board,
  ...contact,
  ...mention,
  ...quote,
  ...thread,
  app: { title: "Atendimento", console: "Agent console", skip: "Skip to the conversation" },
  login: {
    heading: "Agent console", tenant: "Company code (e.g. acme)", tenantHint: "The short name your company uses to sign in.",
    email: "Email", password: "Password", submit: "Log in", busy: "Logging in…",
  },
  header: {
    status: "Status", logout: "Log out", language: "Language", inbox: "Inbox", supervisor: "Supervisor",
    live: "Live", reconnecting: "Reconnecting…", offline: "Offline", menu: "Menu",
  },
  presence: { online: "Online", away: "Away", offline: "Offline" },
  online: {
    prompt: "You are {status}: no tickets will be assigned to you.", go: "Go online", later: "Not now",
    notifications: "Turn on notifications", atLogin: "Go online when I log in",
  },
  tabs: { label: "Ticket lists", mine: "Mine", unassigned: "Unassigned", all: "All", pending: "Pending", resolved: "Resolved" },
  inbox: {
    search: "Search by name or phone", searchLabel: "Search tickets", empty: "No tickets here.",
    emptyMine: "No tickets for you yet. Go online to receive them.", noResults: "No ticket matches “{q}”.",
    more: "Load more resolved tickets", loading: "Loading tickets…", unread: "unread messages",
    countsNote: "Counts are of the tickets loaded in this console ({limit} per status at most).",
    bot: "at the bot's menu",
  },
  status: { queued: "Waiting", assigned: "Assigned", pending: "Pending", resolved: "Resolved" },
  priority: { label: "Priority", normal: "Normal", high: "High", urgent: "Urgent", critical: "Critical" },
  sla: { warning: "SLA at risk", breached: "SLA breached" },
  thread: {
    choose: "Choose a ticket to see the conversation.", back: "Back to the list", conversation: "Conversation",
    earlier: "Load earlier messages", customer: "Customer", you: "You", agent: "Agent", note: "Internal note",
    ticket: "Ticket #{id}", queue: "Queue: {name}", assignedTo: "Assigned to {name}", assignedToYou: "Assigned to you",
    reacted: "Reacted {emoji} to a message", image: "Image", audio: "Audio message", video: "Video", file: "file",
    download: "Download {name}", fileUnavailable: "not available", reactionCount: "{emoji} × {n}",
    windowClosing: "The WhatsApp window closes in {n} min: after that only a template can be sent.",
    windowClosed: "The WhatsApp window is closed: only a template can be sent.",
  },
  delivery: {
    received: "received", queued: "queued", sent: "sent", delivered: "delivered", read: "read", failed: "failed",
    reason: "Not delivered: {reason}", code: "error {code}",
  },
  actions: {
    accept: "Accept", transfer: "Transfer", resolve: "Resolve", reopen: "Reopen", pending: "Pending", snooze: "Snooze", resume: "Resume", more: "More actions",
  },
  transfer: {
    heading: "Transfer ticket", to: "Transfer to", queue: "A queue", agent: "An agent", queueLabel: "Queue", agentLabel: "Agent", chooseQueue: "Choose a queue",
    chooseAgent: "Choose an agent", current: "{name} (current)", reason: "Reason", optional: "optional",
    confirm: "Transfer", cancel: "Cancel",
  },
  composer: {
    reply: "Reply", note: "Note", replyLabel: "Reply to the customer", noteLabel: "Internal note (agents only)",
    placeholder: "Write a reply… (Enter sends, Shift+Enter for a new line, / for canned replies)",
    notePlaceholder: "Write a note for your team… (never sent to the customer)",
    send: "Send", addNote: "Add note", resolved: "This ticket is resolved: reopen it to reply.",
    notYours: "Accept this ticket to reply.", canned: "Canned replies",
  },
  template: {
    heading: "The 24-hour window is closed", explain: "WhatsApp only lets you write first with an approved template. Choose one and fill its variables.",
    name: "Template name", language: "Language code", variables: "Variables", variable: "Variable {n}",
    addVariable: "Add a variable", choose: "Template", headerVariable: "Header variable {n}", noVariables: "This template has no variables.", removeVariable: "Remove variable {n}", send: "Send template", cancel: "Cancel",
  },
  notices: {
    reassigned: "Ticket #{id} is no longer assigned to you.", accepted: "Ticket #{id} is yours.",
    resolved: "Ticket #{id} resolved.", reopened: "Ticket #{id} reopened.", transferred: "Ticket #{id} transferred.",
    resent: "Message #{id} queued again.", pending: "Ticket #{id} is waiting on the customer.", snoozed: "Ticket #{id} snoozed.", resumed: "Ticket #{id} is back.", retried: "Event #{id} queued again.", saved: "Saved.", dismiss: "Dismiss",
  },
  notify: { newTicket: "New ticket", newMessage: "New message from {name}" },
  errors: {
    invalid_credentials: "Wrong company code, email or password.", network: "The server cannot be reached. Check your connection and try again.",
    expired: "Your session has expired: please log in again.", forbidden: "You may not do this.",
    not_found: "Not found.", conflict: "Someone changed this ticket first: {text}", live_unavailable: "Live updates are unavailable.",
    unexpected: "Something went wrong.", no_reply: "No reply has been sent to this customer yet: reply first.",
  },
  roles: { agent: "Agent", supervisor: "Supervisor", admin: "Admin" },
  strategies: { least_busy: "Least busy agent", round_robin: "Round robin", skills: "By skills", priority: "By priority" },
  supervisor: {
    heading: "Supervisor", reports: "SLA report", from: "From", to: "To", groupBy: "Group by", tenant: "Company",
    queue: "Queue", agent: "Agent", run: "Show", name: "Name", opened: "Opened", resolvedCol: "Resolved",
    frp50: "First response p50", frp90: "First response p90", resp50: "Resolution p50", breach: "Breach rate",
    noRows: "No tickets in this range.", deadLetters: "Failed sends", noDead: "No failed sends.", resend: "Send again",
    message: "Message", ticket: "Ticket", reason: "Reason", queues: "Queues", users: "Users", strategy: "Strategy",
    email: "Email", role: "Role", status: "Status", capacity: "Capacity", active: "Active", save: "Save",
    newQueue: "New queue", create: "Create",
  },
  contact: {
    button: "Contact", heading: "Contact", name: "Name", phones: "Phones", emails: "Emails", notes: "Notes",
    tickets: "Tickets on every channel", this: "this one",
  },
  snooze: {
    heading: "Snooze ticket", untilTime: "Until a time", untilReply: "Until the customer replies", when: "Wake at",
    confirm: "Snooze", badgeUntil: "Snoozed until {when}", badgeReply: "Snoozed until the customer replies",
  },
  labels: { remove: "Remove label {name}", add: "Add a label", addOption: "+ Label", filter: "Filter by label", all: "All labels" },
  simulate: {
    heading: "Simulate a customer", explain: "Sandbox channel: the server signs the delivery and takes it in like a provider's webhook. Replies go sent → delivered → read.",
    channel: "Channel", from: "Customer phone", name: "Customer name", kind: "What the customer does",
    kinds: { text: "Writes a text", image: "Sends a photo", reaction: "Reacts to our last reply", status: "Reports a status of our last reply" },
    text: "Text", caption: "Caption (optional)", emoji: "Reaction", status: "Status",
    toReply: "Applies to the newest reply sent to this phone.", send: "Send as the customer", sent: "Delivered to the sandbox webhook.",
  },
  audit: {
    heading: "Audit log", action: "Action", ticket: "Ticket #", when: "When", who: "Who", what: "On", details: "Details",
    none: "No entries.", more: "Load older entries", system: "System",
  },
  inboxDead: {
    heading: "Provider events that failed", none: "No failed provider events.", attempts: "{n} attempts", retry: "Process again",
  },
  webhooks: {
    heading: "Outgoing webhooks", secretOnce: "The signing secret, shown only this once: copy it now.", active: "on", off: "off",
    ping: "Ping", log: "Delivery log", rotate: "Rotate secret", disable: "Switch off", enable: "Switch on", remove: "Remove",
    event: "Event", state: "State", answer: "Answer", latency: "Latency", attempts: "Attempts", replay: "Send again",
    noDeliveries: "No deliveries yet.", none: "No endpoints.", url: "URL (https)", description: "Description",
    events: "Events", create: "Add endpoint", pinged: "Ping queued: see the delivery log.",
  },
  autoResolve: {
    heading: "Auto-resolve", on: "Resolve idle tickets of {name}", hours: "Business hours without a reply",
    message: "Closing message (optional)",
  },
  admin,
};
