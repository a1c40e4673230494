import { describe, expect, it } from "vitest";
import {
  droppedFiles, EMOJI, insertAt, mentionAt, mentionedIds, mentionMatches, mentionText, replyForm,
} from "../src/composer";

describe("files for a reply", () => {
  it("sends the text and one file part per file", () => {
    const form = replyForm("a nota", [new File(["x"], "a.txt", { type: "text/plain" }), new File(["yy"], "b.pdf")]);
    expect(form.get("body")).toBe("a nota");
    expect((form.getAll("file") as File[]).map((f) => f.name)).toEqual(["a.txt", "b.pdf"]);
  });
  it("keeps the files of a drop and skips a folder (no size, no type)", () => {
    const list = [new File(["x"], "a.txt", { type: "text/plain" }), new File([], "folder")] as unknown as FileList;
    expect(droppedFiles(list).map((f) => f.name)).toEqual(["a.txt"]);
    expect(droppedFiles(null)).toEqual([]);
  });
});

describe("inserting at the caret", () => {
  it("replaces the selection and puts the caret after the insert", () => {
    expect(insertAt("Olá !", 4, 4, "😊")).toEqual({ text: "Olá 😊!", caret: 6 });
    expect(insertAt("abc", 1, 2, "X")).toEqual({ text: "aXc", caret: 2 });
    expect(insertAt("abc", 99, 99, "!")).toEqual({ text: "abc!", caret: 4 });
  });
  it("offers distinct emoji", () => {
    expect(new Set(EMOJI).size).toBe(EMOJI.length);
  });
});

describe("mentions", () => {
  const agents = [{ id: 1, name: "Ana" }, { id: 2, name: "Bruno Lima" }, { id: 3, name: "Álvaro" }];
  it("finds the @ being typed before the caret, not an email address", () => {
    expect(mentionAt("ver com @Br", 11)).toEqual({ start: 8, prefix: "Br" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, prefix: "" });
    expect(mentionAt("ana@acme", 8)).toBeNull();
    expect(mentionAt("@Bruno já viu", 13)).toBeNull();
  });
  it("matches a word of the name, ignoring case and accents", () => {
    expect(mentionMatches(agents, "br").map((a) => a.id)).toEqual([2]);
    expect(mentionMatches(agents, "lim").map((a) => a.id)).toEqual([2]);
    expect(mentionMatches(agents, "alv").map((a) => a.id)).toEqual([3]);
    expect(mentionMatches(agents, "").length).toBe(3);
  });
  it("writes @ and the name", () => {
    expect(mentionText("Bruno Lima")).toBe("@Bruno Lima ");
  });
  it("sends the ids of the colleagues picked and still named, once each; a name typed by hand is no mention", () => {
    const picked = [{ id: 2, name: "Bruno Lima" }, { id: 3, name: "Carla" }, { id: 2, name: "Bruno Lima" }];
    expect(mentionedIds("@Bruno Lima e @Carla, vejam", picked)).toEqual([2, 3]);
    expect(mentionedIds("@Carla, veja", picked)).toEqual([3]); // Bruno's was deleted after picking
    expect(mentionedIds("@Ana veja", [])).toEqual([]);
  });
});
