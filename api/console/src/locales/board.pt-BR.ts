// Português do Brasil: o painel ao vivo, os gráficos dos relatórios e os avisos da caixa de entrada.
import type en from "./board.en";

const ptBR: typeof en = {
  board: {
    heading: "Painel ao vivo", noQueues: "Nenhuma fila ainda.", waiting: "Aguardando", oldest: "Maior espera",
    assigned: "Atribuídos", pending: "Pendentes", atRisk: "SLA em risco", breached: "SLA estourado",
    nobody: "Nenhum agente online ou ausente.", agents: "Agentes de {name}", load: "{open}/{max}",
    totals: "Aguardando: {waiting} · Online: {online} · Ausentes: {away} · Em risco: {atRisk} · Estourados: {breached}",
  },
  charts: {
    heading: "Relatórios", groupNone: "Tudo", bucket: "Período", day: "Dia", hour: "Hora", csv: "Baixar CSV",
    table: "Ver os dados em tabela", when: "Quando", none: "nenhum",
    empty: "{title}: sem dados neste período.",
    summary: "{title}: o maior valor é {max} {unit} ({series}, {label}), de {points} no eixo.",
    title: { volume: "Volume", responses: "Tempos de resposta", sla: "SLA estourado", csat: "Satisfação (CSAT)" },
    unit: { volume: "quantidade", responses: "minutos (média)", sla: "% estourado", csat: "respostas" },
    series: {
      volume: { messages_in: "Mensagens recebidas", messages_out: "Mensagens enviadas",
        tickets_opened: "Atendimentos abertos", tickets_resolved: "Atendimentos resolvidos" },
      responses: { first_response: "Primeira resposta", next_response: "Próxima resposta", resolution: "Resolução" },
      sla: { first_response: "Primeira resposta", resolution: "Resolução", any: "Qualquer relógio" },
      csat: { 1: "Nota 1", 2: "Nota 2", 3: "Nota 3", 4: "Nota 4", 5: "Nota 5" },
    },
  },
  attention: { sound: "Som em novas mensagens" },
};
export default ptBR;
