"""Dense optical flow between consecutive frames (OpenCV Farneback), and warping along it.

Used by the motion-aware metrics (`keras_v2v.evaluation.motion`) and by the
training batches of the warping loss (`UnpairedVideoDataset(flows=True)`),
so the loss and the metric see the same flow. Needs the optional extra
`keras-v2v[flow]` (opencv-python-headless).
"""

import numpy as np

# Farneback on small frames: a 3-level pyramid and a window that fits 64 px frames.
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=9, iterations=3, poly_n=5, poly_sigma=1.1, flags=0)


def opencv():
    try:
        import cv2
    except ImportError:
        raise ImportError("motion-aware metrics need OpenCV: pip install 'keras-v2v[flow]' "
                          "(opencv-python-headless)") from None
    return cv2


def grey_uint8(frame):
    """(H, W, C) in [0, 1] -> (H, W) uint8, what the flow sees."""
    grey = frame.mean(axis=-1) if frame.shape[-1] != 3 else frame @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(grey * 255.0), 0, 255).astype(np.uint8)


def dense_flow(cv2, first, second):
    """Dense flow (H, W, 2) such that first[p] ~ second[p + flow[p]]."""
    return cv2.calcOpticalFlowFarneback(first, second, None, **FARNEBACK)


def warp_frame(cv2, image, flow):
    """image sampled at p + flow[p] (bilinear, edges repeated)."""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    out = cv2.remap(np.ascontiguousarray(image, np.float32), map_x, map_y, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape)


def flow_pairs(video):
    """Per consecutive pair t -> t+1 of one (T, H, W, C) video: (backward flows, visibility masks).

    backward[t] maps frame t+1 back to frame t (frame_{t+1}[p] ~ frame_t[p + backward[t][p]]);
    mask[t] is True where the forward-backward check says p is visible in both frames.
    `video`: uint8 or float in [0, 1]. Returns float32 (T-1, H, W, 2) and bool (T-1, H, W).
    """
    cv2 = opencv()
    video = np.asarray(video)
    video = video / 255.0 if video.dtype == np.uint8 else video
    grey = [grey_uint8(f) for f in video]
    backward, masks = [], []
    for t in range(len(grey) - 1):
        back = dense_flow(cv2, grey[t + 1], grey[t])
        forward = dense_flow(cv2, grey[t], grey[t + 1])
        # Sundaram et al.: following back then forth should return to the start.
        forward_at = warp_frame(cv2, forward, back)
        mismatch = ((back + forward_at) ** 2).sum(-1)
        bound = 0.01 * ((back ** 2).sum(-1) + (forward_at ** 2).sum(-1)) + 0.5
        backward.append(back)
        masks.append(mismatch < bound)
    return np.stack(backward).astype(np.float32), np.stack(masks)


