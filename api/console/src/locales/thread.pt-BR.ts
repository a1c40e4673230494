// Textos em português do fio da conversa (localização, contatos, botões), dos botões de resposta rápida do
// editor, do controle de prioridade e da localização e do cartão de contato do simulador (espalhados em pt-BR.ts).
export default {
  cards: {
    location: "Localização compartilhada", openMap: "Abrir mapa", openMapOf: "Abrir mapa: {name}, no OpenStreetMap (nova aba)",
    contact: "Cartão de contato", noName: "Sem nome", call: "Ligar para {phone}", email: "Enviar e-mail para {email}",
    buttons: "Botões oferecidos", chose: "escolheu: {title}",
  },
  quickReplies: {
    add: "Botões", addLabel: "Adicionar botões de resposta rápida", heading: "Botões de resposta rápida (até {n})",
    title: "Botão {n}", remove: "Remover o botão {n}", another: "Adicionar um botão", clear: "Sem botões",
    hint: "O cliente toca em um; a escolha volta para a conversa.",
    problems: {
      empty: "Dê um título a cada botão, ou remova-o.", tooLong: "O título de um botão tem no máximo {n} caracteres.",
      duplicate: "Dois botões têm o mesmo título.", tooMany: "No máximo {n} botões.",
      withFiles: "Botões não vão com arquivos: envie os arquivos em uma resposta separada.",
      needsText: "Botões vão com um texto: escreva a mensagem que eles respondem.",
    },
    unsupported: "Este canal não envia botões: mande as opções como texto.",
  },
  priorityControl: { label: "Definir prioridade", changed: "A prioridade do ticket #{id} agora é {name}." },
  simulateCards: {
    kinds: { location: "Compartilha uma localização", contacts: "Compartilha um cartão de contato" },
    latitude: "Latitude", longitude: "Longitude", place: "Nome do lugar", address: "Endereço",
    contactName: "Nome do contato", contactPhone: "Telefone do contato", contactEmail: "E-mail do contato",
    sample: "Campos vazios: um exemplo é enviado.",
  },
};
