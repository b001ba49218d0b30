"""`iknet-ros plot KIND`: the figures of the models and the synthetic data (viz.plots)."""


def _skeleton_arguments(parser):
    parser.add_argument('--out', required=True, metavar='FILE.png', help='PNG to write')
    parser.add_argument('--seed', type=int, default=0, help='sequence seed (default 0)')
    parser.add_argument('--models', nargs='*', metavar='DIR', default=None,
                        help='instead: input, model predictions and truth of a fast held-out '
                             'motion (no DIR: the shipped baseline and sequence weights)')


def _skeleton_run(args):
    from iknet_ros.viz import plots

    if args.models is not None:
        return plots.plot_predictions(args.models or plots.default_checkpoints(), args.out)
    return plots.plot_skeleton(args.out, args.seed)


def _curves_arguments(parser):
    parser.add_argument('--out', required=True, metavar='FILE.png', help='PNG to write')
    parser.add_argument('--checkpoint', nargs='*', default=[], metavar='DIR',
                        help='checkpoint folders with history.json (default: shipped weights)')


def _curves_run(args):
    from iknet_ros.viz import plots

    return plots.plot_curves(args.checkpoint or plots.default_checkpoints(), args.out)


def _attention_arguments(parser):
    parser.add_argument('--out', required=True, metavar='FILE.png', help='PNG to write')
    parser.add_argument('--checkpoint', default=None, metavar='DIR',
                        help='sequence checkpoint (default: shipped weights)')
    parser.add_argument('--sequence', type=int, default=0, help='held-out sequence index')
    parser.add_argument('--frame', type=int, default=45, help='newest frame of the window')
    parser.add_argument('--heads', action='store_true', help='also draw every head')


def _attention_run(args):
    from iknet_ros.viz import plots

    return plots.plot_attention(args.checkpoint, args.out, args.sequence, args.frame, args.heads)


def _urdf_arguments(parser):
    parser.add_argument('--bag', required=True, metavar='DIR',
                        help='a bag folder of iknet-ros run --record')
    parser.add_argument('--out', metavar='FILE.png', help='PNG of the URDF hand at a few frames')
    parser.add_argument('--side', default='right', choices=('right', 'left'))
    parser.add_argument('--frames', type=int, nargs='*', help='frame numbers to draw')


def _urdf_run(args):
    from iknet_ros.viz.urdf_hand import check_run

    return check_run(args.bag, args.side, args.out, args.frames)


# kind -> (one-line help, add_arguments(parser), draw(args) -> path of the PNG)
KINDS = {
    'skeleton': ('3D skeletons of generated poses and true vs noisy keypoints, or (--models) '
                 'model predictions on a fast motion', _skeleton_arguments, _skeleton_run),
    'curves': ('training and validation MPJPE per epoch', _curves_arguments, _curves_run),
    'attention': ('attention maps of the sequence IKNet on a held-out window',
                  _attention_arguments, _attention_run),
    'urdf': ("a recorded run's joint angles against their limits and the hand URDF (FK "
             'distance, picture)', _urdf_arguments, _urdf_run),
}


def add_arguments(parser):
    """One sub-command per plot kind: ``iknet-ros plot KIND ...``."""
    kinds = parser.add_subparsers(dest='kind', metavar='KIND', required=True)
    for name, (help_text, add, draw) in KINDS.items():
        sub = kinds.add_parser(name, help=help_text, description=help_text)
        add(sub)
        sub.set_defaults(draw=draw)


def run(args) -> int:
    """Draw the chosen kind and say where it went."""
    path = args.draw(args)
    if path is not None:
        print(f'wrote {path}')
    return 0
