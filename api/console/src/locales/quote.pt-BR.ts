// Textos em português das respostas com citação: a citação sobre a mensagem, a ação Responder, o "Respondendo a".
export default {
  quote: {
    reply: "Responder", replyTo: "Responder citando esta mensagem: {excerpt}", quoted: "Cita",
    notLoaded: "uma mensagem não carregada", jump: "Ir para a mensagem citada:",
    replyingTo: "Respondendo a:", cancel: "Cancelar a citação",
  },
};
