// Português do Brasil: a área de administração (entra em pt-BR.ts como `admin`).
import type admin from "./admin.en";

const adminPtBR: typeof admin = {
  heading: "Administração", none: "Nenhuma", edit: "Editar", delete: "Excluir",
  tabs: { users: "Usuários", queues: "Filas", channels: "Canais", hours: "Horário de atendimento", sla: "Políticas de SLA",
    canned: "Respostas prontas", labels: "Etiquetas", keys: "Chaves de API" },
  users: { new: "Novo usuário", password: "Senha (8+ caracteres)" },
  queues: { grace: "Tolerância offline (s)", returnOnOffline: "Devolver tickets quando o agente fica offline",
    members: "Membros", membersOf: "Membros de {name}", saveMembers: "Salvar membros" },
  channels: {
    explain: "As credenciais não são exibidas depois de salvas. Digite uma para substituí-la; todo salvamento com credenciais é verificado com o provedor.",
    kinds: { whatsapp: "WhatsApp", sms: "SMS", email: "E-mail", sandbox: "Sandbox" },
    set: "credenciais definidas", notSet: "credenciais não definidas", queue: "Fila padrão", replace: "Substituir credenciais",
    keep: "sem alteração", saveVerify: "Salvar e verificar", createVerify: "Adicionar e verificar", new: "Novo canal",
    kind: "Tipo", externalId: "Número, endereço ou id", credentials: "Credenciais",
    accepted: "Salvo: o provedor aceitou as credenciais.", refused: "Não salvo: o provedor recusou as credenciais ({reason}).",
    unavailable: "Não salvo: não foi possível consultar o provedor; tente mais tarde ({reason}).",
  },
  hours: {
    tz: "Fuso horário", unset: "Nenhum horário definido: os prazos de SLA correm 24 horas por dia, 7 dias por semana.",
    closed: "Fechado", add: "Adicionar horário", copy: "Copiar segunda para terça–sexta",
    opens: "{day}, abertura {n}", closes: "{day}, fechamento {n}", remove: "Remover {day}, horário {n}",
    holidays: "Feriados (uma data por linha, AAAA-MM-DD)", badDates: "Datas inválidas: {dates}",
    days: { mon: "Segunda", tue: "Terça", wed: "Quarta", thu: "Quinta", fri: "Sexta", sat: "Sábado", sun: "Domingo" },
    problems: { order: "O fim deve ser depois do início.", overlap: "Sobrepõe outro horário deste dia.", empty: "Preencha os dois horários." },
  },
  sla: {
    first_response: "Primeira resposta", next_response: "Próxima resposta", resolution: "Resolução", inMinutes: "min",
    minutes: "{n} min", anyQueue: "Qualquer fila", anyPriority: "Qualquer prioridade", none: "Nenhuma política ainda.",
    new: "Nova política", editing: "Editando “{name}”", noTarget: "sem prazo", warning: "Avisar em (% do prazo)",
    escalateQueue: "Ao estourar, mover para a fila", escalateAgent: "Ao estourar, passar para", escalatePriority: "Ao estourar, subir a prioridade",
  },
  canned: {
    new: "Nova resposta pronta", editing: "Editando /{code}", code: "Código (a-z, 0-9, _ - .)", title: "Título",
    body: "Texto", scope: "Para", scopes: { tenant: "Todos", personal: "Só eu" }, none: "Nenhuma resposta pronta ainda.",
    variables: "Variáveis que você pode usar", confirmDelete: "Excluir a resposta pronta /{code}?",
  },
  labels: { new: "Nova etiqueta", color: "Cor", none: "Nenhuma etiqueta ainda.", confirmDelete: "Excluir a etiqueta “{name}”? Ela sai de todos os tickets e contatos." },
  keys: {
    once: "A chave “{name}”, exibida só desta vez: copie agora.", copy: "Copiar", copied: "Copiada",
    prefix: "Chave", scopes: "Escopos", lastUsed: "Último uso", never: "nunca", revoked: "revogada", active: "ativa",
    revoke: "Revogar", none: "Nenhuma chave de API.", create: "Criar chave", confirmRevoke: "Revogar a chave “{name}”? As integrações que a usam param na hora.",
  },
};
export default adminPtBR;
