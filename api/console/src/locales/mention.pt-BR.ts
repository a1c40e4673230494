// Strings em português das notificações de @menção: o aviso, o link e a nota destacada (espalhadas em pt-BR.ts).
export default {
  mention: {
    title: "{name} mencionou você no atendimento #{id}", open: "Abrir o atendimento #{id}", dismiss: "Dispensar a menção",
    toast: "Menção", mentionsYou: "Menciona você",
  },
};
