// Cluster page (#/cluster): the nodes and whether this node reaches them,
// per-peer traffic and latency, the partition map as a grid coloured by
// owner, and which node owns a given order id. Refreshed every 2 s.

import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { duration } from '../format.js';
import { Badge, Table, usePoll } from '../ui.jsx';

const NODE_COLORS = ['#2563eb', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea'];

export function ClusterPage() {
  const { data } = usePoll(() => get('/v1/admin/cluster'), 2000, []);
  const [owner, setOwner] = useState(null);
  if (!data) {
    return (
      <section>
        <h2>Cluster</h2>
      </section>
    );
  }
  const color = new Map(data.nodes.map((n, i) => [n.id, NODE_COLORS[i % NODE_COLORS.length]]));
  const down = new Set(data.nodes.filter((n) => !n.reachable).map((n) => n.id));
  return (
    <section>
      <h2>Cluster</h2>
      <p>
        This node: <b data-testid="cluster-self">{data.node_id}</b> · {data.partitions} partitions
      </p>
      <div class="card">
        <h3>Nodes</h3>
        <Table head={['node', 'address', 'reachable', 'partitions']} testid="cluster-nodes">
          {data.nodes.map((n) => (
            <tr key={n.id} data-testid="cluster-node">
              <td>
                <span class="swatch" style={{ background: color.get(n.id) }} /> {n.id}
                {n.self && <span class="muted"> (this node)</span>}
              </td>
              <td>{n.address}</td>
              <td>
                <Badge value={n.reachable ? 'REACHABLE' : 'UNREACHABLE'} />
              </td>
              <td class="num">{n.partitions}</td>
            </tr>
          ))}
        </Table>
      </div>
      {data.peers.length > 0 && <Peers peers={data.peers} />}
      <OwnerBox owner={owner} setOwner={setOwner} />
      <div class="card">
        <h3>Partition map</h3>
        <div class="partition-grid" data-testid="partition-map">
          {data.partition_map.map((node, i) => (
            <div
              key={i}
              class={`cell${down.has(node) ? ' down' : ''}${owner?.partition === i ? ' picked' : ''}`}
              style={{ background: color.get(node) }}
              title={`partition ${i}: ${node}${down.has(node) ? ' (unreachable)' : ''}`}
            >
              {i}
            </div>
          ))}
        </div>
      </div>
    </section>
  );
}

/** Microseconds as "310µs", or as a duration from 1 ms on. */
const micros = (us) => (us < 1000 ? `${us}µs` : duration(us / 1000));

function Peers({ peers }) {
  return (
    <div class="card">
      <h3>Peers (as this node sees them)</h3>
      <Table
        head={['peer', 'reachable', 'for', 'connects', 'forwarded req/msg/failed', 'served req/msg', 'latency p50/p99/max', 'last error']}
        testid="cluster-peers"
      >
        {peers.map((p) => (
          <tr key={p.id}>
            <td>
              {p.id} <span class="muted">{p.address}</span>
            </td>
            <td>
              <Badge value={p.reachable ? 'REACHABLE' : 'UNREACHABLE'} />
            </td>
            <td class="num">{duration(p.state_for_ms)}</td>
            <td class="num">{p.connects}</td>
            <td class="num">
              {p.forwarded.requests}/{p.forwarded.messages}/{p.forwarded.failed}
            </td>
            <td class="num">
              {p.served.requests}/{p.served.messages}
            </td>
            <td class="num">
              {micros(p.latency_us.p50)}/{micros(p.latency_us.p99)}/{micros(p.latency_us.max)}
            </td>
            <td class="error-text">{p.last_error ?? ''}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

function OwnerBox({ owner, setOwner }) {
  const [id, setId] = useState('');
  const lookup = async (e) => {
    e.preventDefault();
    try {
      const r = await get(`/v1/admin/cluster?order_id=${encodeURIComponent(id.trim())}`);
      setOwner(r.owner);
    } catch {
      setOwner(null);
    }
  };
  return (
    <div class="card">
      <h3>Owner of an order</h3>
      <form class="inline" onSubmit={lookup}>
        <label>
          Order id
          <input class="id" data-testid="owner-order-id" value={id} onInput={(e) => setId(e.target.value)} />
        </label>
        <button type="submit" data-testid="owner-go" disabled={!id.trim()}>
          Find owner
        </button>
      </form>
      {owner && (
        <p data-testid="owner-result">
          Order <b>{owner.order_id}</b> is in partition <b>{owner.partition}</b>, owned by node <b>{owner.node}</b>.
        </p>
      )}
    </div>
  );
}
