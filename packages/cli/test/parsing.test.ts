import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../src/database-url.js';
import { parseAsOf, parseDuration } from '../src/option-values.js';
import { formatRows } from '../src/result-format.js';
import { isComplete, splitStatements } from '../src/sql-text.js';

/** The command line's parsing, in process: URLs, durations, --as-of, statement ends, row formats. */

describe('database URLs', () => {
  it('name a store and a database: the last segment is the name', () => {
    expect(parseDatabaseUrl('s3://bucket/a/b/app.db')).toMatchObject({ scheme: 's3', bucket: 'bucket', prefix: 'a/b/', name: 'app.db' });
    expect(parseDatabaseUrl('s3://bucket/app.db')).toMatchObject({ scheme: 's3', bucket: 'bucket', prefix: '', name: 'app.db' });
    expect(parseDatabaseUrl('gs://bucket/x/app.db')).toMatchObject({ scheme: 'gs', bucket: 'bucket', prefix: 'x/', name: 'app.db' });
    expect(parseDatabaseUrl('az://container/app.db')).toMatchObject({ scheme: 'az', container: 'container', prefix: '', name: 'app.db' });
    expect(parseDatabaseUrl('file:./data/app.db')).toMatchObject({ scheme: 'file', root: resolve('data'), name: 'app.db' });
    expect(parseDatabaseUrl('file:///var/db/app.db')).toMatchObject({ scheme: 'file', root: '/var/db', name: 'app.db' });
    expect(parseDatabaseUrl('data/app.db')).toMatchObject({ scheme: 'file', root: resolve('data'), name: 'app.db' });
    expect(parseDatabaseUrl('app.db')).toMatchObject({ scheme: 'file', root: resolve('.'), name: 'app.db' });
  });

  it('are refused with the reason and examples', () => {
    expect(() => parseDatabaseUrl('s3://bucket')).toThrow(/no database name after the bucket/);
    expect(() => parseDatabaseUrl('s3://bucket/dir/')).toThrow(/no database name/);
    expect(() => parseDatabaseUrl('s3:/bucket/x')).toThrow(/start with s3:\/\//);
    expect(() => parseDatabaseUrl('s3:///x')).toThrow(/no bucket/);
    expect(() => parseDatabaseUrl('az://c/a//b')).toThrow(/empty path segment/);
    expect(() => parseDatabaseUrl('http://host/db')).toThrow(/unknown scheme "http:".*examples: s3:\/\//);
    expect(() => parseDatabaseUrl('./data/')).toThrow(/ends with the database name/);
    expect(() => parseDatabaseUrl('')).toThrow(/empty/);
  });
});

describe('durations and --as-of', () => {
  it('read units and sums', () => {
    expect(parseDuration('24h', '--retention')).toBe(86_400_000);
    expect(parseDuration('1h30m', '--retention')).toBe(5_400_000);
    expect(parseDuration('90s', '--retention')).toBe(90_000);
    expect(parseDuration('2500', '--retention')).toBe(2500);
    expect(() => parseDuration('soon', '--retention')).toThrow(/--retention: "soon" is not a duration/);
    expect(() => parseDuration('5 parsecs', '--retention')).toThrow(/not a duration/);
  });

  it('take a commit, a time, or a duration ago', () => {
    expect(parseAsOf('42')).toBe(42);
    expect(parseAsOf('2026-12-01T10:00:00Z')).toEqual(new Date('2026-12-01T10:00:00Z'));
    expect(parseAsOf('2h', 10_000_000)).toEqual(new Date(10_000_000 - 7_200_000));
    expect(() => parseAsOf('yesterday-ish')).toThrow(/neither a commit number/);
  });
});

describe('statement ends', () => {
  it('are semicolons outside strings, names, comments and trigger bodies', () => {
    expect(splitStatements('SELECT \'a;b\'; SELECT "x;" -- c;\n; SELECT 3')).toEqual({ statements: ["SELECT 'a;b'", 'SELECT "x;" -- c;'], rest: 'SELECT 3' });
    expect(isComplete('SELECT 1')).toBe(false);
    expect(isComplete('SELECT 1;')).toBe(true);
    expect(isComplete("SELECT 'it''s;")).toBe(false);
    expect(isComplete('SELECT 1; /* a comment */')).toBe(true);
    const trigger = 'CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE y SET n = n + 1; DELETE FROM z; END;';
    expect(isComplete('CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE y SET n = n + 1;')).toBe(false);
    expect(splitStatements(trigger).statements).toEqual([trigger.slice(0, -1)]);
  });
});

describe('row formats', () => {
  const rows = [
    { id: 1, name: 'a "b", c', data: new Uint8Array([0, 255]), big: 2n ** 60n },
    { id: 2, name: null, data: null, big: 1 },
  ];
  it('table, json and csv', () => {
    expect(formatRows(rows, 'table')).toBe(
      'id  name      data  big\n--  --------  ----  -------------------\n1   a "b", c  00FF  1152921504606846976\n2   NULL      NULL  1\n',
    );
    expect(formatRows(rows, 'json')).toBe(
      '[{"id":1,"name":"a \\"b\\", c","data":"00FF","big":1152921504606846976},{"id":2,"name":null,"data":null,"big":1}]\n',
    );
    expect(formatRows(rows, 'csv')).toBe('id,name,data,big\r\n1,"a ""b"", c",00FF,1152921504606846976\r\n2,,,1\r\n');
    expect(formatRows([], 'json')).toBe('[]\n');
    expect(formatRows([], 'table')).toBe('');
  });
});
