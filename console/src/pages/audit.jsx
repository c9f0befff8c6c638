// Audit page (#/audit): the auditor's last run (scheduled or requested), its
// open violations and what it healed, subjects linked to the actors
// involved; "Run audit now" runs one and shows it. `node`: the node of the
// cluster audited (?node=ID on every call; none: the node serving the
// console).

import { get, onNode, post } from '../api.js';
import { time } from '../format.js';
import { Badge, Field, NodePicker, Subject, Table, notice, usePoll } from '../ui.jsx';

export function AuditPage({ node }) {
  const { data: run, reload } = usePoll(() => get(onNode('/v1/admin/audit/last', node)), 5000, [node]);
  const runNow = async () => {
    try {
      const r = await post(onNode('/v1/admin/audit', node));
      const on = node ? ` on node ${node}` : '';
      notice(r.ok ? `Audit finished${on}: nothing is left broken.` : `Audit finished${on}: ${r.violations.length} violation(s).`);
      reload();
    } catch {
      // shown in the error banner by the API layer
    }
  };
  return (
    <section>
      <h2>Audit</h2>
      <NodePicker node={node} />
      <div class="buttons">
        <button type="button" class="primary" data-testid="audit-run" onClick={runNow}>
          Run audit now
        </button>
      </div>
      {run && <Run run={run} node={node} />}
    </section>
  );
}

function Run({ run, node }) {
  if (!run.at) {
    return <p class="muted" data-testid="audit-never">No audit has run since the node started.</p>;
  }
  return (
    <>
      <div class="card grid-fields" data-testid="audit-last">
        <Field label="last run">{time(run.at)}</Field>
        <Field label="trigger">{run.trigger}</Field>
        <Field label="result" testid="audit-ok">
          <Badge value={run.ok ? 'OK' : 'VIOLATIONS'} />
        </Field>
      </div>
      <Findings title="Violations" list={run.violations} testid="audit-violations" empty="no violations" node={node} />
      <Findings title="Healed" list={run.healed} testid="audit-healed" empty="nothing healed" node={node} />
    </>
  );
}

function Findings({ title, list, testid, empty, node }) {
  return (
    <div class="card">
      <h3>{title}</h3>
      <Table head={['rule', 'subject', 'detail']} testid={testid} empty={empty}>
        {list.map((v, i) => (
          <tr key={i} data-testid="finding" data-rule={v.rule}>
            <td>{v.rule}</td>
            <td>
              <Subject value={v.subject} node={node} />
            </td>
            <td>{v.detail}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}
