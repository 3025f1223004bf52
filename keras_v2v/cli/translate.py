"""`keras-v2v translate`: every refusal from the headers first, then decode, translate and write."""

import os
import sys

from keras_v2v.cli.common import CommandError, _in_cli_terms, _is_volume, load_backend


def _check_translate_paths(source, target):
    """Fails fast, before a model loads: a missing input, an unsafe output, or the input as output."""
    from keras_v2v.data import video_write
    from keras_v2v.utils.files import check_output_path, refuse_special

    if not os.path.exists(source):
        raise CommandError(f"{source}: no such file or folder")
    refuse_special(source, "a video file, a frame folder or a NIfTI volume", CommandError)
    target_path = check_output_path(target, "output")
    if not _is_volume(target):
        video_write.check_target(target)
    same = os.path.realpath(source) == os.path.realpath(target_path) or (
        os.path.exists(target_path) and os.path.samefile(source, target_path))
    if same:
        raise CommandError(f"the output {target} is the input file; name a different output so the input is kept")


def _read_input(path, window, max_side, channels, start=0, max_frames=None):
    """The clip in the model's channel count, decoded frame by frame into one array (no converted copy)."""
    from keras_v2v import data

    if _is_volume(path):
        if start or max_frames:
            raise CommandError(f"{path}: --start and --max-frames cut videos; a volume is translated whole")
        volume = data.read_volume(path, window=window or "minmax")
        return volume, None
    try:
        if os.path.isdir(path):
            return data.read_frames(path, start, max_frames=max_frames, max_side=max_side, channels=channels), 30.0
        fps = data.probe_video(path).fps
        video = data.read_video(path, start, max_frames=max_frames, max_side=max_side, channels=channels)
    except data.DataError as error:
        raise _in_cli_terms(error, "translate part of it (--start S --max-frames N) or downscale it "
                            "(--max-side 256)", "KERAS_V2V_MAX_DECODED_BYTES") from None
    return video, fps if fps and 0 < fps <= 240 else 30.0


def _check_translate_memory(model, args, shape, channels):
    """Before decoding: the forward passes, and the clip with its translation, must fit the memory limit."""
    from keras_v2v.models import inference

    batch = _batch_that_fits(model, args, shape)
    generator = model.generator_a2b if args.direction == "a2b" else model.generator_b2a
    per_window = (min(args.window or model.sample_shape[0], max(shape[0], model.sample_shape[0]))
                  if model.rank == 3 else 1)
    out_channels = model.channels_b if args.direction == "a2b" else model.channels_a
    itemsize = 4 if _is_volume(args.input) else 1  # read_volume gives float32
    try:
        inference.check_clip_memory(generator, batch * per_window, shape, channels, out_channels, itemsize)
    except ValueError as error:
        raise _in_cli_terms(CommandError(f"{args.input}: {error}"), "downscale it (--max-side 256) or translate "
                            "part of it (--start S --max-frames N)", "KERAS_V2V_MAX_MEMORY") from None
    return batch


def _match_channels(video, channels, path):
    from keras_v2v import data

    try:
        return data.to_channels(video, channels)
    except ValueError as error:
        raise CommandError(f"{path}: {error}; the model expects {channels}") from None


def _progress_printer(stream=None):
    """translate's progress: tqdm's bar on a terminal, plain lines (every 10%) in a log or pipe.

    tqdm would write carriage returns into a file, so off a terminal the lines are ours,
    as `train` writes them.
    """
    stream = stream or sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        from tqdm import tqdm

        bar = None

        def report(done, total):
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, desc="translating", file=stream, leave=True)
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        return report
    shown = [-1]

    def report(done, total):
        tenth = 10 * done // max(total, 1)
        if tenth > shown[0] or done >= total:
            shown[0] = tenth
            stream.write(f"translating: {done}/{total} ({100 * done // max(total, 1)}%)\n")
            stream.flush()

    return report


def _batch_that_fits(model, args, shape):
    """--batch-size, halved (with a note) while one forward pass would not fit in memory."""
    from keras_v2v.models import inference
    from keras_v2v.utils.limits import memory_limit

    generator = model.generator_a2b if args.direction == "a2b" else model.generator_b2a
    frames, height, width = shape[:3]
    per_window = min(args.window or model.sample_shape[0], max(frames, model.sample_shape[0])) if model.rank == 3 else 1
    batch = args.batch_size
    while batch > 1 and inference.forward_bytes(generator, batch * per_window * height * width) > memory_limit():
        batch //= 2
    fits = inference.forward_bytes(generator, batch * per_window * height * width) <= memory_limit()
    if batch != args.batch_size and fits:  # (when nothing fits, translate says so)
        print(f"keras-v2v: note: --batch-size {args.batch_size} would not fit in memory at {width}x{height}; "
              f"using {batch}", file=sys.stderr)
    return batch


def _check_intensity_window(args):
    """--intensity-window: a known preset, and only for volumes (a video has no intensity units)."""
    if args.intensity_window is None:
        return
    from keras_v2v.data.volume_io import WINDOW_PRESETS

    if not _is_volume(args.input):
        raise CommandError(f"--intensity-window: applies to volumes (.nii, .nii.gz) only, and {args.input} is not "
                           "one; leave it out")
    if args.intensity_window not in WINDOW_PRESETS:
        raise CommandError(f"--intensity-window: expected one of {', '.join(WINDOW_PRESETS)}, "
                           f"found {args.intensity_window!r}")


def translate_command(args):
    from keras_v2v import data, presets
    from keras_v2v.data import shapes

    _check_translate_paths(args.input, args.output)
    _check_intensity_window(args)
    load_backend()
    model = presets.from_pretrained(args.model)
    source_channels = model.channels_a if args.direction == "a2b" else model.channels_b
    # Everything that can refuse does so from the headers, before a frame is decoded.
    shape = shapes.declared_shape(args.input, args.max_side)
    if args.start or args.max_frames:  # the part of a video --start / --max-frames keep
        frames = max(1, shape[0] - (args.start or 0))
        shape = (min(frames, args.max_frames or frames),) + tuple(shape[1:])
    batch_size = _check_translate_memory(model, args, shape, source_channels)
    video, fps = _read_input(args.input, args.intensity_window, args.max_side, source_channels, args.start,
                             args.max_frames)
    video = _match_channels(video, source_channels, args.input)
    try:
        output = model.translate(
            video,
            direction=args.direction,
            window=args.window,
            overlap=args.overlap,
            batch_size=batch_size,
            progress=None if args.quiet else _progress_printer(),
        )
    except ValueError as error:
        raise _in_cli_terms(error, "downscale the video (--max-side 256) or lower --batch-size",
                            "KERAS_V2V_MAX_MEMORY") from None
    if _is_volume(args.output):
        data.write_nifti(args.output, output)
    elif args.side_by_side:
        # Enlarge tiny clips (the bundled models work at 32-64 px) so the result is watchable.
        height = video.shape[1] * max(1, 160 // video.shape[1])
        data.write_side_by_side(args.output, video, output, labels=["input", "output"], fps=fps or 30.0,
                                height=height)
    else:
        data.write_video(args.output, output, fps=fps or 30.0)
    print(f"wrote {args.output} ({len(output)} frames)")
