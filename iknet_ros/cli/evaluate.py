"""`iknet-ros evaluate`: the synthetic held-out table (evaluation.synthetic)."""
import json
from pathlib import Path

from iknet_ros.cli import CliError


def add_arguments(parser):
    """Arguments of `iknet-ros evaluate`."""
    parser.add_argument('--checkpoint', nargs='*', default=[], metavar='DIR',
                        help='checkpoint folders (default: the shipped baseline and sequence)')
    parser.add_argument('--sequences', type=int, default=64, help='held-out sequences per level')
    parser.add_argument('--frames', type=int, default=90, help='frames per sequence (30 fps)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--json', metavar='FILE', help='also write the results as JSON')


def run(args) -> int:
    """Evaluate, print the table, optionally write the JSON."""
    from iknet_ros.evaluation.synthetic import evaluate, format_table, load_for_evaluation

    if args.sequences < 1 or args.frames < 3:
        raise CliError('--sequences must be >= 1 and --frames >= 3')
    results = evaluate(load_for_evaluation(args.checkpoint, args.device), args.sequences,
                       args.frames, args.device)
    print(format_table(results))
    print(f'One Euro settings: {results["one_euro_settings"]}')
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
        print(f'wrote {args.json}')
    return 0
