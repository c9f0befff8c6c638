// Faults page (#/faults): the armed failure-injection rules and every known
// point; arm a rule (point, action, delay, probability, count), clear one or
// all, each after a confirmation. Refreshed every 2 s (rules with a count
// disarm themselves). `node`: the node of the cluster whose faults are shown
// and armed (?node=ID on every call; none: the node serving the console).

import { useState } from 'preact/hooks';
import { del, get, onNode, path, post } from '../api.js';
import { num } from '../format.js';
import { NodePicker, Table, notice, useConfirm, usePoll } from '../ui.jsx';

export function FaultsPage({ node }) {
  const { data, reload } = usePoll(() => get(onNode('/v1/admin/faults', node)), 2000, [node]);
  const [dialog, ask] = useConfirm();
  const on = node ? ` on node ${node}` : '';
  const done = (text) => {
    notice(text);
    reload();
  };
  const clearOne = (point) =>
    ask({
      title: `Clear the fault at ${point}${on}?`,
      body: 'The point behaves normally again.',
      label: 'Clear',
      run: async () => {
        await del(onNode(path`/v1/admin/faults/${point}`, node));
        done(`Cleared the fault at ${point}${on}.`);
      },
    });
  const clearAll = () =>
    ask({
      title: `Clear every armed fault${on}?`,
      body: `${data.faults.length} rule(s) are disarmed.`,
      label: 'Clear all',
      run: async () => {
        await del(onNode('/v1/admin/faults', node));
        done(`Cleared every fault${on}.`);
      },
    });
  return (
    <section>
      <h2>Faults (drills)</h2>
      <NodePicker node={node} />
      {data && (
        <>
          <div class="card">
            <h3>Armed</h3>
            <Table head={['point', 'action', 'delay', 'probability', 'count left', 'fired', '']} testid="faults-armed" empty="nothing armed">
              {data.faults.map((f) => (
                <tr key={f.point} data-testid="fault-armed" data-point={f.point}>
                  <td>{f.point}</td>
                  <td>{f.action}</td>
                  <td class="num">{f.delay_ms ? `${f.delay_ms}ms` : '—'}</td>
                  <td class="num">{num(f.probability, 3)}</td>
                  <td class="num">{f.count || 'unlimited'}</td>
                  <td class="num">{f.fired}</td>
                  <td>
                    <button type="button" data-testid="fault-clear" onClick={() => clearOne(f.point)}>
                      Clear…
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
            {data.faults.length > 0 && (
              <div class="buttons">
                <button type="button" class="danger" data-testid="faults-clear-all" onClick={clearAll}>
                  Clear all…
                </button>
              </div>
            )}
          </div>
          <ArmForm points={data.points} ask={ask} done={done} node={node} />
          <div class="card">
            <h3>Points</h3>
            <Table head={['point', 'actions', 'where']} testid="fault-points">
              {data.points.map((p) => (
                <tr key={p.name}>
                  <td class="nowrap">{p.name}</td>
                  <td>{p.actions.join(', ')}</td>
                  <td>{p.where}</td>
                </tr>
              ))}
            </Table>
          </div>
        </>
      )}
      {dialog}
    </section>
  );
}

function ArmForm({ points, ask, done, node }) {
  const [point, setPoint] = useState(points[0]?.name ?? '');
  const actions = points.find((p) => p.name === point)?.actions ?? [];
  const [action, setAction] = useState('');
  const act = actions.includes(action) ? action : actions[0];
  const [delayMs, setDelayMs] = useState('200');
  const [probability, setProbability] = useState('1');
  const [count, setCount] = useState('0');
  const submit = (e) => {
    e.preventDefault();
    const rule = { point, action: act, probability: Number(probability), count: Number(count) };
    if (act === 'delay') {
      rule.delay_ms = Number(delayMs);
    }
    ask({
      title: `Arm ${act} at ${point}${node ? ` on node ${node}` : ''}?`,
      body: (
        <>
          <p>
            {act === 'crash' ? 'The node process dies (like kill -9) when this fires. ' : ''}
            It fires with probability {rule.probability}
            {rule.count ? `, at most ${rule.count} time(s)` : ', until cleared'}.
          </p>
          <pre>{JSON.stringify(rule)}</pre>
        </>
      ),
      label: 'Arm',
      danger: true,
      run: async () => {
        const r = await post(onNode('/v1/admin/faults', node), rule);
        done(`Armed ${r.action} at ${r.point}${node ? ` on node ${node}` : ''}.`);
      },
    });
  };
  return (
    <div class="card">
      <h3>Arm a fault</h3>
      <form class="inline" onSubmit={submit} data-testid="fault-form">
        <label>
          Point
          <select data-testid="fault-point" value={point} onChange={(e) => setPoint(e.target.value)}>
            {points.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Action
          <select data-testid="fault-action" value={act} onChange={(e) => setAction(e.target.value)}>
            {actions.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        {act === 'delay' && (
          <label>
            Delay (ms)
            <input data-testid="fault-delay" type="number" min="1" max="600000" value={delayMs} onInput={(e) => setDelayMs(e.target.value)} />
          </label>
        )}
        <label>
          Probability
          <input
            data-testid="fault-probability"
            type="number"
            min="0"
            max="1"
            step="any"
            value={probability}
            onInput={(e) => setProbability(e.target.value)}
          />
        </label>
        <label>
          Count (0 = unlimited)
          <input data-testid="fault-count" type="number" min="0" step="1" value={count} onInput={(e) => setCount(e.target.value)} />
        </label>
        <button type="submit" class="primary" data-testid="fault-arm">
          Arm…
        </button>
      </form>
    </div>
  );
}
