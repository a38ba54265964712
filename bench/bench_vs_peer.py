#!/usr/bin/env python3
"""Side-by-side training speed: the infomax engine vs the PyTorch peer (../shared/bench/peer_dim.py).

Both train dcgan32 local DIM on Fashion-MNIST (zero-padded to 32x32), batch 64, MI heads of the
paper's width (2048), prior off, in this same invocation, one after the other. Reported per
estimator: images/s (from the median step time after warm-up), the ratio engine/peer, the
engine's mean data-wait time per step, and the achieved GFLOP/s (analytic FLOP count).

    /usr/bin/python3 bench/bench_vs_peer.py --infomax build/app/infomax [--steps 30]
"""
import argparse, csv, json, os, re, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PEER = os.path.normpath(os.path.join(HERE, '..', '..', 'shared', 'bench', 'peer_dim.py'))


TUNED_ENV = {'MALLOC_MMAP_MAX_': '0', 'MALLOC_TRIM_THRESHOLD_': str(1 << 30), 'MALLOC_TOP_PAD_': str(64 << 20)}


def flops_per_image(units, batch, fraction=1.0):
    """Training FLOPs of dcgan32 local DIM per image (multiply-adds count 2; training ~ 3x the
    forward pass). With a location fraction the local head runs on that share of the 64 positions."""
    conv = lambda cin, cout, k, hw: 2 * cin * cout * k * k * hw * hw
    enc = conv(1, 64, 4, 16) + conv(64, 128, 4, 8) + conv(128, 256, 4, 4) + 2 * 4096 * 1024 + 2 * 1024 * 64
    positions = -(-64 * fraction // 1)                          # ceil
    loc = positions * (2 * 128 * units * 2 + 2 * units * units)  # l1 + shortcut + l2 per location
    glob = 2 * 64 * units * 2 + 2 * units * units               # the same on Y
    scores = 2 * units * batch * positions                      # one image's Y against the batch's locations
    return 3 * (enc + loc + glob + scores)


def run_peer(peer, estimator, steps, warmup, threads, batch, units, env=None):
    cmd = ['/usr/bin/python3', peer, '--estimator', estimator, '--mode', 'local', '--batch', str(batch),
           '--steps', str(steps), '--warmup', str(warmup), '--threads', str(threads), '--mi-units', str(units)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=dict(os.environ, **(env or {}))).stdout
    line = [l for l in out.splitlines() if l.startswith('RESULT')][-1]
    fields = dict(kv.split('=') for kv in line.split()[1:])
    return {'median_ms': float(fields['median_step_ms']), 'img_s': float(fields['img_per_s']),
            'rss_mb': float(fields['peak_rss_MB'])}


def run_engine(exe, estimator, steps, warmup, threads, batch, units, precision, fraction=1.0):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'run')
        cmd = [exe, 'train', '--defaults', 'paper', '--arch', 'dcgan32', '--mode', 'local', '--estimator', estimator, '--gamma', '0',
               '--batch', str(batch), '--head-units', str(units), '--steps', str(steps + warmup),
               '--log-every', '1', '--checkpoint-every', '0', '--threads', str(threads),
               '--precision', precision, '--local-fraction', str(fraction), '--out', out, '--json', '--quiet']
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        with open(os.path.join(out, 'metrics.csv')) as f:
            rows = list(csv.DictReader(f))
    timed = rows[warmup:]
    med = statistics.median(float(r['step_ms']) for r in timed)
    wait = statistics.mean(float(r['data_wait_ms']) for r in timed)
    return {'median_ms': med, 'img_s': batch * 1000.0 / med, 'wait_ms': wait}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--infomax', default=os.path.join(HERE, '..', 'build', 'app', 'infomax'))
    ap.add_argument('--peer', default=DEFAULT_PEER)
    ap.add_argument('--estimators', default='jsd,nce')
    ap.add_argument('--precisions', default='fp32',
                    help='comma list; bf16 only where the CPU has native bf16')
    ap.add_argument('--fast-fraction', type=float, default=0.5,
                    help='fast mode: fraction of local positions scored per step (0 = skip)')
    ap.add_argument('--peer-tuned', action='store_true',
                    help='also run the peer with glibc kept from mmap-ing big blocks (as the engine does)')
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--units', type=int, default=2048)
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    gf = flops_per_image(a.units, a.batch) / 1e9
    results = []
    for est in a.estimators.split(','):
        peer = run_peer(a.peer, est, a.steps, a.warmup, a.threads, a.batch, a.units)
        print(f'peer   {est:4s} fp32 {peer["img_s"]:7.1f} img/s  median step {peer["median_ms"]:7.1f} ms  '
              f'{peer["img_s"] * gf:6.1f} GFLOP/s', flush=True)
        tuned = None
        if a.peer_tuned:
            tuned = run_peer(a.peer, est, a.steps, a.warmup, a.threads, a.batch, a.units, env=TUNED_ENV)
            print(f'peer   {est:4s} fp32 {tuned["img_s"]:7.1f} img/s  median step {tuned["median_ms"]:7.1f} ms  '
                  f'{tuned["img_s"] * gf:6.1f} GFLOP/s  (glibc tuned)', flush=True)
        precisions = a.precisions.split(',')
        variants = [(p, 1.0) for p in precisions]
        if a.fast_fraction > 0:
            variants += [(p, a.fast_fraction) for p in precisions]
        for prec, frac in variants:
            eng = run_engine(a.infomax, est, a.steps, a.warmup, a.threads, a.batch, a.units, prec, frac)
            ratio = eng['img_s'] / peer['img_s']
            label = prec if frac >= 1 else f'{prec} fast(local_fraction={frac:g})'
            flops = gf if frac >= 1 else flops_per_image(a.units, a.batch, frac) / 1e9
            extra = f'  vs tuned peer {eng["img_s"] / tuned["img_s"]:.2f}x' if tuned else ''
            print(f'engine {est:4s} {label} {eng["img_s"]:7.1f} img/s  median step {eng["median_ms"]:7.1f} ms  '
                  f'{eng["img_s"] * flops:6.1f} GFLOP/s  data wait {eng["wait_ms"]:.3f} ms/step  '
                  f'ratio {ratio:.2f}x{extra}', flush=True)
            results.append({'estimator': est, 'variant': label, 'engine_img_s': eng['img_s'],
                            'peer_img_s': peer['img_s'], 'ratio': ratio, 'data_wait_ms': eng['wait_ms'],
                            'engine_gflops': eng['img_s'] * flops, 'peer_gflops': peer['img_s'] * gf,
                            'tuned_peer_img_s': tuned['img_s'] if tuned else None})
    if a.json:
        print(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
