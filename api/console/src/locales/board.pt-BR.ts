// Português do Brasil: o painel ao vivo, os gráficos dos relatórios e os avisos da caixa de entrada.
import type en from "./board.en";

const ptBR: typeof en = {
  attention: { sound: "Som em novas mensagens" },
};
export default ptBR;
