// Português do Brasil: the default where the browser asks for Portuguese.
import admin from "./admin.pt-BR";
import type en from "./en";
import board from "./board.pt-BR";
import contact from "./contact.pt-BR";
import mention from "./mention.pt-BR";
import quote from "./quote.pt-BR";
import thread from "./thread.pt-BR";

const ptBR: typeof en = {
  ...board,
  ...contact,
  ...mention,
  ...quote,
  ...thread,
  app: { title: "Atendimento", console: "Console do agente", skip: "Ir para a conversa" },
  login: {
    heading: "Console do agente", tenant: "Código da empresa (ex.: acme)", tenantHint: "O nome curto que sua empresa usa para entrar.",
    email: "E-mail", password: "Senha", submit: "Entrar", busy: "Entrando…",
  },
  header: {
    status: "Status", logout: "Sair", language: "Idioma", inbox: "Caixa de entrada", supervisor: "Supervisão",
    live: "Ao vivo", reconnecting: "Reconectando…", offline: "Desconectado", menu: "Menu",
  },
  presence: { online: "Disponível", away: "Ausente", offline: "Offline" },
  online: {
    prompt: "Você está {status}: nenhum atendimento será atribuído a você.", go: "Ficar disponível", later: "Agora não",
    notifications: "Ativar notificações", atLogin: "Ficar disponível ao entrar",
  },
  tabs: { label: "Listas de atendimentos", mine: "Meus", unassigned: "Sem agente", all: "Todos", pending: "Pendentes", resolved: "Resolvidos" },
  inbox: {
    search: "Buscar por nome ou telefone", searchLabel: "Buscar atendimentos", empty: "Nenhum atendimento aqui.",
    emptyMine: "Nenhum atendimento para você ainda. Fique disponível para recebê-los.", noResults: "Nenhum atendimento corresponde a “{q}”.",
    more: "Carregar mais resolvidos", loading: "Carregando atendimentos…", unread: "mensagens não lidas",
    countsNote: "As contagens são dos atendimentos carregados neste console (no máximo {limit} por status).",
    bot: "no menu do robô",
  },
  status: { queued: "Na fila", assigned: "Atribuído", pending: "Pendente", resolved: "Resolvido" },
  priority: { label: "Prioridade", normal: "Normal", high: "Alta", urgent: "Urgente", critical: "Crítica" },
  sla: { warning: "SLA em risco", breached: "SLA estourado" },
  thread: {
    choose: "Escolha um atendimento para ver a conversa.", back: "Voltar para a lista", conversation: "Conversa",
    earlier: "Carregar mensagens anteriores", customer: "Cliente", you: "Você", agent: "Agente", note: "Nota interna",
    ticket: "Atendimento #{id}", queue: "Fila: {name}", assignedTo: "Atribuído a {name}", assignedToYou: "Atribuído a você",
    reacted: "Reagiu {emoji} a uma mensagem", image: "Imagem", audio: "Mensagem de áudio", video: "Vídeo", file: "arquivo",
    download: "Baixar {name}", fileUnavailable: "indisponível", reactionCount: "{emoji} × {n}",
    windowClosing: "A janela do WhatsApp fecha em {n} min: depois disso, só um modelo pode ser enviado.",
    windowClosed: "A janela do WhatsApp está fechada: só um modelo pode ser enviado.",
  },
  delivery: {
    received: "recebida", queued: "na fila", sent: "enviada", delivered: "entregue", read: "lida", failed: "falhou",
    reason: "Não entregue: {reason}", code: "erro {code}",
  },
  actions: {
    accept: "Aceitar", transfer: "Transferir", resolve: "Resolver", reopen: "Reabrir", pending: "Pendente", snooze: "Adiar", resume: "Retomar", more: "Mais ações",
  },
  transfer: {
    heading: "Transferir atendimento", to: "Transferir para", queue: "Uma fila", agent: "Um agente", queueLabel: "Fila", agentLabel: "Agente", chooseQueue: "Escolha uma fila",
    chooseAgent: "Escolha um agente", current: "{name} (atual)", reason: "Motivo", optional: "opcional",
    confirm: "Transferir", cancel: "Cancelar",
  },
  composer: {
    reply: "Responder", note: "Nota", replyLabel: "Resposta ao cliente", noteLabel: "Nota interna (só agentes)",
    placeholder: "Escreva uma resposta… (Enter envia, Shift+Enter quebra a linha, / para respostas prontas)",
    notePlaceholder: "Escreva uma nota para a equipe… (nunca vai para o cliente)",
    send: "Enviar", addNote: "Adicionar nota", resolved: "Este atendimento está resolvido: reabra para responder.",
    notYours: "Aceite este atendimento para responder.", canned: "Respostas prontas",
  },
  template: {
    heading: "A janela de 24 horas está fechada", explain: "O WhatsApp só permite escrever primeiro com um modelo aprovado. Escolha um e preencha as variáveis.",
    name: "Nome do modelo", language: "Código do idioma", variables: "Variáveis", variable: "Variável {n}",
    addVariable: "Adicionar variável", choose: "Modelo", headerVariable: "Variável do cabeçalho {n}", noVariables: "Este modelo não tem variáveis.", removeVariable: "Remover variável {n}", send: "Enviar modelo", cancel: "Cancelar",
  },
  notices: {
    reassigned: "O atendimento #{id} não está mais com você.", accepted: "O atendimento #{id} é seu.",
    resolved: "Atendimento #{id} resolvido.", reopened: "Atendimento #{id} reaberto.", transferred: "Atendimento #{id} transferido.",
    resent: "Mensagem #{id} na fila de novo.", pending: "O atendimento #{id} aguarda o cliente.", snoozed: "Atendimento #{id} adiado.", resumed: "O atendimento #{id} voltou.", retried: "Evento #{id} na fila de novo.", saved: "Salvo.", dismiss: "Fechar",
  },
  notify: { newTicket: "Novo atendimento", newMessage: "Nova mensagem de {name}" },
  errors: {
    invalid_credentials: "Código da empresa, e-mail ou senha incorretos.", network: "Não foi possível falar com o servidor. Verifique a conexão e tente de novo.",
    expired: "Sua sessão expirou: entre de novo.", forbidden: "Você não pode fazer isso.",
    not_found: "Não encontrado.", conflict: "Alguém mudou este atendimento antes: {text}", live_unavailable: "Atualizações ao vivo indisponíveis.",
    unexpected: "Algo deu errado.", no_reply: "Nenhuma resposta foi enviada a este cliente ainda: responda primeiro.",
  },
  roles: { agent: "Agente", supervisor: "Supervisor", admin: "Administrador" },
  strategies: { least_busy: "Agente menos ocupado", round_robin: "Rodízio", skills: "Por habilidades", priority: "Por prioridade" },
  supervisor: {
    heading: "Supervisão", reports: "Relatório de SLA", from: "De", to: "Até", groupBy: "Agrupar por", tenant: "Empresa",
    queue: "Fila", agent: "Agente", run: "Mostrar", name: "Nome", opened: "Abertos", resolvedCol: "Resolvidos",
    frp50: "1ª resposta p50", frp90: "1ª resposta p90", resp50: "Resolução p50", breach: "Taxa de violação",
    noRows: "Nenhum atendimento neste período.", deadLetters: "Envios com falha", noDead: "Nenhum envio com falha.", resend: "Reenviar",
    message: "Mensagem", ticket: "Atendimento", reason: "Motivo", queues: "Filas", users: "Usuários", strategy: "Estratégia",
    email: "E-mail", role: "Papel", status: "Status", capacity: "Capacidade", active: "Ativo", save: "Salvar",
    newQueue: "Nova fila", create: "Criar",
  },
  contact: {
    button: "Contato", heading: "Contato", name: "Nome", phones: "Telefones", emails: "E-mails", notes: "Observações",
    tickets: "Atendimentos em todos os canais", this: "este",
  },
  snooze: {
    heading: "Adiar atendimento", untilTime: "Até um horário", untilReply: "Até o cliente responder", when: "Voltar em",
    confirm: "Adiar", badgeUntil: "Adiado até {when}", badgeReply: "Adiado até o cliente responder",
  },
  labels: { remove: "Remover etiqueta {name}", add: "Adicionar etiqueta", addOption: "+ Etiqueta", filter: "Filtrar por etiqueta", all: "Todas as etiquetas" },
  simulate: {
    heading: "Simular um cliente", explain: "Canal sandbox: o servidor assina a entrega e a recebe como o webhook de um provedor. As respostas vão de enviada → entregue → lida.",
    channel: "Canal", from: "Telefone do cliente", name: "Nome do cliente", kind: "O que o cliente faz",
    kinds: { text: "Escreve um texto", image: "Envia uma foto", reaction: "Reage à nossa última resposta", status: "Informa um status da nossa última resposta" },
    text: "Texto", caption: "Legenda (opcional)", emoji: "Reação", status: "Status",
    toReply: "Vale para a resposta mais recente enviada a este telefone.", send: "Enviar como o cliente", sent: "Entregue ao webhook do sandbox.",
  },
  audit: {
    heading: "Registro de auditoria", action: "Ação", ticket: "Atendimento nº", when: "Quando", who: "Quem", what: "Em", details: "Detalhes",
    none: "Nenhum registro.", more: "Carregar registros anteriores", system: "Sistema",
  },
  inboxDead: {
    heading: "Eventos de provedor com falha", none: "Nenhum evento de provedor com falha.", attempts: "{n} tentativas", retry: "Processar de novo",
  },
  webhooks: {
    heading: "Webhooks de saída", secretOnce: "O segredo de assinatura, mostrado só esta vez: copie agora.", active: "ligado", off: "desligado",
    ping: "Testar", log: "Registro de entregas", rotate: "Trocar segredo", disable: "Desligar", enable: "Ligar", remove: "Remover",
    event: "Evento", state: "Estado", answer: "Resposta", latency: "Latência", attempts: "Tentativas", replay: "Reenviar",
    noDeliveries: "Nenhuma entrega ainda.", none: "Nenhum endpoint.", url: "URL (https)", description: "Descrição",
    events: "Eventos", create: "Adicionar endpoint", pinged: "Teste na fila: veja o registro de entregas.",
  },
  autoResolve: {
    heading: "Resolução automática", on: "Resolver atendimentos parados de {name}", hours: "Horas úteis sem resposta",
    message: "Mensagem de encerramento (opcional)",
  },
  admin,
};
export default ptBR;
