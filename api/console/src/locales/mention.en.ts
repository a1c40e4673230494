// English strings of @mention notifications: the toast, its link and the highlighted note (spread into en.ts).
export default {
  mention: {
    title: "{name} mentioned you on #{id}", open: "Open ticket #{id}", dismiss: "Dismiss the mention",
    toast: "Mention", mentionsYou: "Mentions you",
  },
};
