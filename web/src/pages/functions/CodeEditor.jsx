// CodeMirror 6 for a function's JavaScript (or a JSON document), as a controlled input.
import { useEffect, useRef } from "react";
import { basicSetup, EditorView } from "codemirror";
import { EditorState } from "@codemirror/state";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";

export function CodeEditor({ value, onChange, language = "javascript", readOnly = false, label, minHeight = "12rem" }) {
  const box = useRef(null);
  const view = useRef(null);
  const latest = useRef(onChange);
  // The editor owns its text once made; a different value from outside replaces it (below).
  const initial = useRef(value);
  useEffect(() => {
    latest.current = onChange;
  });
  useEffect(() => {
    view.current = new EditorView({
      parent: box.current,
      state: EditorState.create({
        doc: initial.current,
        extensions: [
          basicSetup,
          language === "json" ? json() : javascript(),
          EditorState.readOnly.of(readOnly),
          EditorView.editable.of(!readOnly),
          // Focusable even read-only, so the code can be scrolled and copied from the keyboard.
          EditorView.contentAttributes.of({ "aria-label": label, tabindex: "0" }),
          EditorView.theme({ "&": { minHeight }, ".cm-scroller": { minHeight } }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) latest.current?.(u.state.doc.toString());
          }),
        ],
      }),
    });
    return () => view.current.destroy();
  }, [language, readOnly, label, minHeight]);
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);
  return <div className="code-editor" ref={box} />;
}
