"""`iknet-ros train`: train the baseline or the sequence IKNet (model.train)."""
from iknet_ros.model import MODEL_KINDS


def add_arguments(parser):
    """Arguments of `iknet-ros train`."""
    parser.add_argument('--model', choices=MODEL_KINDS, required=True,
                        help='which network to train')
    parser.add_argument('--out', required=True, help='output folder of the checkpoint')
    parser.add_argument('--epochs', type=int, help='epochs (default: the full run)')
    parser.add_argument('--steps-per-epoch', type=int, help='training steps per epoch')
    parser.add_argument('--device', default='auto', help='auto, cpu or cuda')
    parser.add_argument('--resume', action='store_true',
                        help='continue the run in --out from its last epoch')
    parser.add_argument('--seed', type=int, default=0, help='training seed')
    parser.add_argument('--window', type=int, help='sequence model: frames per window (T)')
    parser.add_argument('--no-rays', action='store_true',
                        help="without the 2D landmarks' rays as an input (the 2D ablation)")
    parser.add_argument('--accel-weight', type=float,
                        help='weight of the jitter (acceleration) term of the loss')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of the training process (default 1: the data '
                             'generator runs on another core, and oversubscribed threads are '
                             'much slower than one)')


def run(args) -> int:
    """Train, then print the last validation figure."""
    import torch

    from iknet_ros.model.train import train

    arguments = {'window': args.window} if args.window and args.model == 'sequence' else {}
    if args.no_rays:
        arguments['use_rays'] = False
    if args.threads:
        torch.set_num_threads(args.threads)
    history = train(args.model, args.out, epochs=args.epochs,
                    steps_per_epoch=args.steps_per_epoch, device=args.device,
                    resume=args.resume, seed=args.seed, arguments=arguments,
                    accel_weight=args.accel_weight)
    last = history[-1]
    print(f'{args.model}: {len(history)} epochs, validation MPJPE {last["val_mpjpe_mm"]:.2f} mm;'
          f' saved to {args.out}')
    return 0
