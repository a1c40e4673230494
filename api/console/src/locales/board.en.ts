// English strings of the live board, the report charts and inbox attention (spread into en.ts).
export default {
  attention: { sound: "Sound on new messages" },
};
