// API page (#/api): GET /v1/openapi.json as a readable list: operations
// grouped by tag, each with its method and path, summary, parameters,
// request body schema and responses.

import { get } from '../api.js';
import { Table, usePoll } from '../ui.jsx';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const MAX_DEPTH = 4;

export function ApiPage() {
  const { data: doc } = usePoll(() => get('/v1/openapi.json'), 0, []);
  if (!doc) {
    return (
      <section>
        <h2>API</h2>
      </section>
    );
  }
  const groups = new Map();
  for (const [p, item] of Object.entries(doc.paths || {})) {
    for (const m of METHODS) {
      if (item[m]) {
        const tag = item[m].tags?.[0] ?? 'other';
        if (!groups.has(tag)) {
          groups.set(tag, []);
        }
        groups.get(tag).push({ path: p, method: m, op: item[m], shared: item.parameters || [] });
      }
    }
  }
  const tagInfo = new Map((doc.tags || []).map((t) => [t.name, t.description]));
  return (
    <section data-testid="api-doc">
      <h2>
        {doc.info?.title} <span class="muted">{doc.info?.version}</span>
      </h2>
      {doc.info?.summary && <p>{doc.info.summary}</p>}
      {doc.info?.description && <Prose text={doc.info.description} />}
      {[...groups.entries()].map(([tag, ops]) => (
        <div class="card" key={tag} data-testid="api-tag">
          <h3>{tag}</h3>
          {tagInfo.get(tag) && <Prose text={tagInfo.get(tag)} />}
          {ops.map((o) => (
            <Operation key={`${o.method} ${o.path}`} doc={doc} {...o} />
          ))}
        </div>
      ))}
    </section>
  );
}

/** Description text (a paragraph, or a span when inline), its `code` spans as code. */
function Prose({ text, inline = false }) {
  const Tag = inline ? 'span' : 'p';
  return <Tag class="prose">{text.split(/`([^`]*)`/).map((part, i) => (i % 2 ? <code key={i}>{part}</code> : part))}</Tag>;
}

/** `x` itself, or what its $ref ("#/components/...") names. */
function deref(doc, x) {
  if (!x?.$ref?.startsWith('#/')) {
    return x;
  }
  return x.$ref
    .slice(2)
    .split('/')
    .reduce((node, k) => node?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

function Operation({ doc, path, method, op, shared }) {
  const params = [...shared, ...(op.parameters || [])].map((p) => deref(doc, p));
  const body = deref(doc, op.requestBody);
  const bodySchema = body?.content && Object.values(body.content)[0]?.schema;
  return (
    <details class="op" data-testid="api-op" data-method={method} data-path={path}>
      <summary>
        <span class={`method m-${method}`}>{method.toUpperCase()}</span> <code>{path}</code>{' '}
        <span class="muted">{op.summary}</span>
      </summary>
      {op.description && <Prose text={op.description} />}
      {params.length > 0 && (
        <Table head={['parameter', 'in', 'required', 'type', 'description']}>
          {params.map((p) => (
            <tr key={`${p.in}:${p.name}`}>
              <td>
                <code>{p.name}</code>
              </td>
              <td>{p.in}</td>
              <td>{p.required ? 'yes' : 'no'}</td>
              <td>
                <Schema doc={doc} schema={p.schema} depth={MAX_DEPTH - 1} />
              </td>
              <td>{p.description && <Prose text={p.description} inline />}</td>
            </tr>
          ))}
        </Table>
      )}
      {bodySchema && (
        <div>
          <h4>Request body{body.required ? '' : ' (optional)'}</h4>
          <Schema doc={doc} schema={bodySchema} depth={0} />
        </div>
      )}
      <h4>Responses</h4>
      <ul class="responses">
        {Object.entries(op.responses || {}).map(([code, r0]) => {
          const r = deref(doc, r0);
          const schema = r?.content && Object.values(r.content)[0]?.schema;
          return (
            <li key={code}>
              <span class={`status s${code[0]}`}>{code}</span> {r?.description && <Prose text={r.description} inline />}
              {schema && (
                <div class="schema-box">
                  <Schema doc={doc} schema={schema} depth={0} />
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </details>
  );
}

/** A JSON schema as a compact type; objects list their properties, nested to MAX_DEPTH. */
function Schema({ doc, schema, depth, seen = [] }) {
  if (!schema || typeof schema !== 'object') {
    return <span class="type">any</span>;
  }
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop();
    if (seen.includes(schema.$ref) || depth >= MAX_DEPTH) {
      return <span class="type">{name}</span>;
    }
    return (
      <span>
        <span class="type ref">{name}</span> <Schema doc={doc} schema={deref(doc, schema)} depth={depth + 1} seen={[...seen, schema.$ref]} />
      </span>
    );
  }
  const alts = schema.oneOf || schema.anyOf;
  if (alts) {
    return join(
      alts.map((s) => <Schema doc={doc} schema={s} depth={depth} seen={seen} />),
      ' | ',
    );
  }
  if (schema.allOf) {
    const parts = schema.allOf.map((s) => deref(doc, s));
    if (!parts.every((s) => s?.properties)) {
      return join(
        schema.allOf.map((s) => <Schema doc={doc} schema={s} depth={depth} seen={seen} />),
        ' & ',
      );
    }
    // An object extending others (e.g. Error with a fixed code): one property list.
    const merged = {
      type: 'object',
      properties: Object.assign({}, ...parts.map((s) => s.properties)),
      required: parts.flatMap((s) => s.required || []),
    };
    const bases = schema.allOf.filter((s) => s.$ref).map((s) => s.$ref.split('/').pop());
    return (
      <span>
        {bases.length > 0 && <span class="type ref">{bases.join(' & ')}</span>}
        <Schema doc={doc} schema={merged} depth={depth} seen={seen} />
      </span>
    );
  }
  if (schema.enum) {
    return <span class="type">{schema.enum.map((v) => JSON.stringify(v)).join(' | ')}</span>;
  }
  if (schema.const !== undefined) {
    return <span class="type">{JSON.stringify(schema.const)}</span>;
  }
  const types = [].concat(schema.type ?? (schema.properties ? 'object' : 'any'));
  const main = types.filter((t) => t !== 'null');
  const nullable = main.length && types.includes('null') ? <span class="type"> | null</span> : null;
  if (main.length === 1 && main[0] === 'array') {
    return (
      <span>
        <span class="type">array of </span>
        <Schema doc={doc} schema={schema.items} depth={depth} seen={seen} />
        {nullable}
      </span>
    );
  }
  if (main.length === 1 && main[0] === 'object' && schema.properties && depth < MAX_DEPTH) {
    const required = new Set(schema.required || []);
    return (
      <span>
        {nullable && <span class="type">object | null</span>}
        <ul class="props">
          {Object.entries(schema.properties).map(([k, v]) => (
            <li key={k}>
              <code>{k}</code>
              {required.has(k) ? <span class="req">*</span> : ''}: <Schema doc={doc} schema={v} depth={depth + 1} seen={seen} />
              {v.description && (
                <span class="muted">
                  {' — '}
                  <Prose text={v.description} inline />
                </span>
              )}
            </li>
          ))}
        </ul>
      </span>
    );
  }
  return (
    <span class="type">
      {main.join(' | ') || 'null'}
      {schema.format ? ` (${schema.format})` : ''}
      {nullable}
    </span>
  );
}

function join(items, sep) {
  return <span>{items.flatMap((x, i) => (i ? [<span class="type">{sep}</span>, x] : [x]))}</span>;
}
