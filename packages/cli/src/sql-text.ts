/**
 * Where SQL statements end, for the shell (which reads lines until a statement is
 * complete, as `sqlite3` does) and for `sql URL "a; b"`: `Database.run/all` take one
 * statement each. A `;` ends a statement unless it is inside a string, a quoted name,
 * a comment, or the BEGIN … END body of a CREATE TRIGGER.
 */
export interface SplitResult {
  /** Complete statements, each without its `;`, trimmed, empty ones dropped. */
  statements: string[];
  /** What follows the last complete statement (the start of an unfinished one), trimmed. */
  rest: string;
}

export function splitStatements(text: string): SplitResult {
  const statements: string[] = [];
  let start = 0;
  let depth = 0; // BEGIN … END nesting inside a trigger body
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "'" || c === '"' || c === '`') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) return { statements, rest: text.slice(start).trim() };
      // A doubled quote is an escaped one: the scan resumes inside the same string.
      i = end + 1;
      continue;
    }
    if (c === '[') {
      const end = text.indexOf(']', i + 1);
      if (end < 0) return { statements, rest: text.slice(start).trim() };
      i = end + 1;
      continue;
    }
    if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end + 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return { statements, rest: text.slice(start).trim() };
      i = end + 2;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_$]/.test(text[j] as string)) j++;
      const word = text.slice(i, j).toUpperCase();
      if (isTrigger(text.slice(start, i))) {
        if (word === 'BEGIN') depth += 1;
        else if (word === 'END' && depth > 0) depth -= 1;
        else if (word === 'CASE') depth += 1; // CASE … END inside a trigger body
      }
      i = j;
      continue;
    }
    if (c === ';' && depth === 0) {
      const statement = text.slice(start, i).trim();
      if (statement !== '' && !isOnlyComments(statement)) statements.push(statement);
      start = i + 1;
    }
    i += 1;
  }
  return { statements, rest: text.slice(start).trim() };
}

/** Whether the text holds at least one complete statement and nothing unfinished after it. */
export function isComplete(text: string): boolean {
  const { rest } = splitStatements(text);
  return rest === '' || isOnlyComments(rest);
}

function isTrigger(before: string): boolean {
  return /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(stripComments(before));
}

function isOnlyComments(text: string): boolean {
  return stripComments(text).trim() === '';
}

function stripComments(text: string): string {
  return text.replace(/--[^\n]*(\n|$)/g, ' ').replace(/\/\*[\s\S]*?(\*\/|$)/g, ' ');
}
