// English strings of quoted replies: the quote above a message, the Reply action, the composer's "Replying to".
export default {
  quote: {
    reply: "Reply", replyTo: "Reply quoting this message: {excerpt}", quoted: "Quotes",
    notLoaded: "a message not loaded", jump: "Go to the quoted message:",
    replyingTo: "Replying to:", cancel: "Cancel the quote",
  },
};
