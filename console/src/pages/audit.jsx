// Audit page (#/audit): the auditor's last run (scheduled or requested), its
// open violations and what it healed, subjects linked to the actors
// involved; "Run audit now" runs one and shows it.

import { get, post } from '../api.js';
import { time } from '../format.js';
import { Badge, Field, Subject, Table, notice, usePoll } from '../ui.jsx';

export function AuditPage() {
  const { data: run, reload } = usePoll(() => get('/v1/admin/audit/last'), 5000, []);
  const runNow = async () => {
    try {
      const r = await post('/v1/admin/audit');
      notice(r.ok ? 'Audit finished: nothing is left broken.' : `Audit finished: ${r.violations.length} violation(s).`);
      reload();
    } catch {
      // shown in the error banner by the API layer
    }
  };
  return (
    <section>
      <h2>Audit</h2>
      <div class="buttons">
        <button type="button" class="primary" data-testid="audit-run" onClick={runNow}>
          Run audit now
        </button>
      </div>
      {run && <Run run={run} />}
    </section>
  );
}

function Run({ run }) {
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
      <Findings title="Violations" list={run.violations} testid="audit-violations" empty="no violations" />
      <Findings title="Healed" list={run.healed} testid="audit-healed" empty="nothing healed" />
    </>
  );
}

function Findings({ title, list, testid, empty }) {
  return (
    <div class="card">
      <h3>{title}</h3>
      <Table head={['rule', 'subject', 'detail']} testid={testid} empty={empty}>
        {list.map((v, i) => (
          <tr key={i} data-testid="finding" data-rule={v.rule}>
            <td>{v.rule}</td>
            <td>
              <Subject value={v.subject} />
            </td>
            <td>{v.detail}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}
