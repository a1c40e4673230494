// English strings of the live board, the report charts and inbox attention (spread into en.ts).
export default {
  board: {
    heading: "Live board", noQueues: "No queues yet.", waiting: "Waiting", oldest: "Oldest wait", assigned: "Assigned",
    pending: "Pending", atRisk: "SLA at risk", breached: "SLA breached", nobody: "No agent online or away.",
    agents: "Agents of {name}", load: "{open}/{max}",
    totals: "Waiting: {waiting} · Online: {online} · Away: {away} · At risk: {atRisk} · Breached: {breached}",
  },
  charts: {
    heading: "Reports", groupNone: "Everything", bucket: "Period", day: "Day", hour: "Hour", csv: "Download CSV",
    table: "Show the data as a table", when: "When", none: "none",
    empty: "{title}: no data in this range.",
    summary: "{title}: the highest value is {max} {unit} ({series}, {label}), of {points} on the axis.",
    title: { volume: "Volume", responses: "Response times", sla: "SLA breaches", csat: "Satisfaction (CSAT)" },
    unit: { volume: "count", responses: "minutes (mean)", sla: "% breached", csat: "answers" },
    series: {
      volume: { messages_in: "Messages in", messages_out: "Messages out", tickets_opened: "Tickets opened",
        tickets_resolved: "Tickets resolved" },
      responses: { first_response: "First response", next_response: "Next response", resolution: "Resolution" },
      sla: { first_response: "First response", resolution: "Resolution", any: "Any clock" },
      csat: { 1: "Score 1", 2: "Score 2", 3: "Score 3", 4: "Score 4", 5: "Score 5" },
    },
  },
  attention: { sound: "Sound on new messages" },
};
