import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { rejectionIssues } from '../../helpers/config-errors.js';

let directory: string;
let filePath: string;

const FILE_TEXT = `
server:
  port: 9000
logging:
  level: warn
endpoints:
  - name: file-endpoint
    url: http://127.0.0.1:11434
    type: ollama
    bearer_token_env: FILE_TOKEN
`;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'sluice-config-'));
  filePath = join(directory, 'sluice.yaml');
  writeFileSync(filePath, FILE_TEXT);
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('refuses to start with neither a file nor endpoints in the environment', () => {
    expect(rejectionIssues(() => loadConfig({ env: {} }))).toEqual([
      'no configuration: pass --config FILE or set SLUICE_CONFIG or SLUICE_ENDPOINTS',
    ]);
  });

  it('reads the explicit file', () => {
    const config = loadConfig({ path: filePath, env: { FILE_TOKEN: 'secret' } });
    expect(config.server.port).toBe(9000);
    expect(config.logging.level).toBe('warn');
    expect(config.endpoints.map((endpoint) => endpoint.name)).toEqual(['file-endpoint']);
  });

  it('reads the file named by SLUICE_CONFIG when no path is passed', () => {
    const config = loadConfig({ env: { SLUICE_CONFIG: filePath, FILE_TOKEN: 'secret' } });
    expect(config.endpoints[0].name).toBe('file-endpoint');
  });

  it('prefers the explicit path over SLUICE_CONFIG', () => {
    const config = loadConfig({ path: filePath, env: { SLUICE_CONFIG: join(directory, 'missing.yaml'), FILE_TOKEN: 'x' } });
    expect(config.server.port).toBe(9000);
  });

  it('names the file when it cannot be read', () => {
    const missing = join(directory, 'missing.yaml');
    expect(() => loadConfig({ path: missing, env: {} })).toThrow(`${missing}: cannot read configuration file`);
  });

  it('prefixes schema problems with the file path', () => {
    const badPath = join(directory, 'bad.yaml');
    writeFileSync(badPath, 'endpoints:\n  - name: a\n    url: http://h:1\n    weight: 0\n');
    expect(() => loadConfig({ path: badPath, env: {} })).toThrow(`${badPath}: endpoints[0].weight: expected a positive integer`);
  });

  it('lets SLUICE_PORT and SLUICE_LOG_LEVEL override the file', () => {
    const config = loadConfig({
      path: filePath,
      env: { SLUICE_PORT: '7000', SLUICE_LOG_LEVEL: 'debug', FILE_TOKEN: 'x' },
    });
    expect(config.server.port).toBe(7000);
    expect(config.logging.level).toBe('debug');
    expect(config.endpoints[0].name).toBe('file-endpoint');
  });

  it('ignores empty variables', () => {
    const config = loadConfig({ path: filePath, env: { SLUICE_PORT: '', SLUICE_ENDPOINTS: ' ', FILE_TOKEN: 'x' } });
    expect(config.server.port).toBe(9000);
    expect(config.endpoints[0].name).toBe('file-endpoint');
  });

  it('builds a configuration from the environment alone, with default names and type', () => {
    const config = loadConfig({ env: { SLUICE_ENDPOINTS: 'http://127.0.0.1:8001, http://127.0.0.1:8002/' } });
    expect(config.server.port).toBe(8080);
    expect(config.endpoints).toMatchObject([
      { name: 'endpoint-1', url: 'http://127.0.0.1:8001', type: 'generic', health_path: '/health' },
      { name: 'endpoint-2', url: 'http://127.0.0.1:8002', type: 'generic' },
    ]);
  });

  it('accepts name=url entries and SLUICE_ENDPOINT_TYPE', () => {
    const config = loadConfig({
      env: { SLUICE_ENDPOINTS: 'gpu-a=http://10.0.0.1:11434,http://10.0.0.2:11434', SLUICE_ENDPOINT_TYPE: 'ollama' },
    });
    expect(config.endpoints).toMatchObject([
      { name: 'gpu-a', url: 'http://10.0.0.1:11434', type: 'ollama', health_path: '/', models_path: '/api/tags' },
      { name: 'endpoint-2', url: 'http://10.0.0.2:11434', type: 'ollama' },
    ]);
  });

  it('replaces the file endpoints with SLUICE_ENDPOINTS, keeping the rest of the file', () => {
    // The file's endpoint needs FILE_TOKEN; once replaced that variable no longer matters.
    const config = loadConfig({ path: filePath, env: { SLUICE_ENDPOINTS: 'only=http://h:1' } });
    expect(config.endpoints.map((endpoint) => endpoint.name)).toEqual(['only']);
    expect(config.server.port).toBe(9000);
  });

  it.each<[string, Record<string, string>, string[]]>([
    ['port not a number', { SLUICE_PORT: 'eighty' }, ['SLUICE_PORT: expected a port number 1-65535']],
    ['port out of range', { SLUICE_PORT: '65536' }, ['SLUICE_PORT: expected a port number 1-65535']],
    ['port zero', { SLUICE_PORT: '0' }, ['SLUICE_PORT: expected a port number 1-65535']],
    ['log level', { SLUICE_LOG_LEVEL: 'verbose' }, ['SLUICE_LOG_LEVEL: expected one of error, warn, info, debug']],
    [
      'endpoint type',
      { SLUICE_ENDPOINT_TYPE: 'tgi' },
      ['SLUICE_ENDPOINT_TYPE: expected one of ollama, vllm, lmstudio, llamacpp, openai, generic'],
    ],
    ['bad url', { SLUICE_ENDPOINTS: 'http://h:1,ftp://h:2' }, ['SLUICE_ENDPOINTS[1].url: expected an http or https URL']],
    [
      'bad name',
      { SLUICE_ENDPOINTS: 'bad name=http://h:1' },
      ['SLUICE_ENDPOINTS[0].name: expected 1-64 characters from A-Z a-z 0-9 . _ -'],
    ],
    [
      'duplicate name',
      { SLUICE_ENDPOINTS: 'a=http://h:1,a=http://h:2' },
      ['SLUICE_ENDPOINTS[1].name: duplicate endpoint name "a"'],
    ],
    ['only separators', { SLUICE_ENDPOINTS: ',,' }, ['SLUICE_ENDPOINTS: expected at least one endpoint']],
  ])('names the variable on error: %s', (_label, env, expected) => {
    expect(rejectionIssues(() => loadConfig({ env: { SLUICE_ENDPOINTS: 'http://h:1', ...env } }))).toEqual(expected);
  });

  it('reports every bad variable at once', () => {
    expect(rejectionIssues(() => loadConfig({ env: { SLUICE_ENDPOINTS: 'http://h:1', SLUICE_PORT: 'x', SLUICE_LOG_LEVEL: 'y' } })))
      .toEqual(['SLUICE_PORT: expected a port number 1-65535', 'SLUICE_LOG_LEVEL: expected one of error, warn, info, debug']);
  });

  it('requires every bearer_token_env variable to be set', () => {
    expect(rejectionIssues(() => loadConfig({ path: filePath, env: {} }))).toEqual([
      'endpoints[0].bearer_token_env: environment variable FILE_TOKEN is not set',
    ]);
    expect(rejectionIssues(() => loadConfig({ path: filePath, env: { FILE_TOKEN: '' } }))).toEqual([
      'endpoints[0].bearer_token_env: environment variable FILE_TOKEN is not set',
    ]);
    expect(loadConfig({ path: filePath, env: { FILE_TOKEN: 'value' } }).endpoints[0].bearer_token_env).toBe('FILE_TOKEN');
  });

  it('requires the admin token and every API key to be readable', () => {
    const path = join(directory, 'access.yaml');
    writeFileSync(path, `admin:
  bearer_token_env: ADMIN_TOKEN
auth:
  api_keys:
    - name: a
      key_env: KEY_A
    - name: b
      key_file: ${join(directory, 'missing.key')}
endpoints:
  - name: e
    url: http://127.0.0.1:1
`);
    expect(rejectionIssues(() => loadConfig({ path, env: { KEY_A: ' ' } }))).toEqual([
      'admin.bearer_token_env: environment variable ADMIN_TOKEN is not set',
      'auth.api_keys[0].key_env: environment variable KEY_A is not set',
      `auth.api_keys[1].key_file: cannot read ${join(directory, 'missing.key')}`,
    ]);
    writeFileSync(join(directory, 'missing.key'), 'sk-b\n');
    expect(loadConfig({ path, env: { ADMIN_TOKEN: 't', KEY_A: 'sk-a' } }).auth.api_keys.map((k) => k.name)).toEqual(['a', 'b']);
  });

  it('reads process.env when no environment is passed', () => {
    const saved = process.env.SLUICE_ENDPOINTS;
    process.env.SLUICE_ENDPOINTS = 'from-process=http://h:1';
    try {
      expect(loadConfig({}).endpoints[0].name).toBe('from-process');
    } finally {
      if (saved === undefined) delete process.env.SLUICE_ENDPOINTS;
      else process.env.SLUICE_ENDPOINTS = saved;
    }
  });
});
