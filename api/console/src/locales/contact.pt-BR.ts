// Textos em português do painel de contato (edição, mesclagem, exportação e exclusão) e dos filtros de fila,
// canal e agente da caixa de entrada (incluídos em pt-BR.ts).
export default {
  contactPanel: {
    attributes: "Atributos personalizados", noAttributes: "Nenhum atributo personalizado ainda.",
    key: "Atributo (ex.: plano)", value: "Valor", add: "Adicionar", edit: "Editar", remove: "Remover",
    save: "Salvar", cancel: "Cancelar", editAttr: "Editar {key}", removeAttr: "Remover {key}",
    badKey: "Use letras minúsculas, dígitos e _ , começando por uma letra (ex.: cliente_desde).",
    merge: "Mesclar…", mergeSearch: "Encontre o contato a mesclar em {name}", mergePlaceholder: "Nome, telefone ou e-mail",
    mergePick: "Contato a mesclar", mergeNone: "Nenhum outro contato encontrado.",
    mergeConfirm: "{from} será mesclado em {into}: atendimentos, telefones, e-mails e histórico passam para cá. Não dá para desfazer.",
    mergeDo: "Mesclar", merged: "{from} foi mesclado em {into}.",
    export: "Exportar dados", exporting: "Preparando a exportação…", exported: "Exportação baixada.",
    erase: "Apagar…", eraseTitle: "Apagar {name}?",
    eraseText: "O texto das mensagens é anonimizado e telefones, e-mails e perfil são removidos para sempre. Não dá para desfazer.",
    eraseDo: "Apagar {name}", erasing: "Apagando…", erased: "O contato foi apagado.",
    jobFailed: "A tarefa terminou como {status}.",
  },
  filters: {
    label: "Filtrar atendimentos", queue: "Filtrar por fila", allQueues: "Todas as filas", channel: "Filtrar por canal",
    allChannels: "Todos os canais", channelN: "Canal #{id}", agent: "Filtrar por agente", allAgents: "Todos os agentes",
    clear: "Limpar filtros",
  },
  composerExtras: {
    emoji: "Inserir emoji", emojiList: "Emojis", attach: "Anexar arquivos", attached: "Arquivos a enviar",
    removeFile: "Remover {name}", dropHere: "Solte os arquivos para anexá-los", mentions: "Agentes para mencionar",
  },
};
