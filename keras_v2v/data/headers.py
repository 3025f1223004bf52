"""What a file's header says before anything is decoded: sizes FFmpeg will not decode, PNG sizes."""

from keras_v2v.data.errors import DataError

# FFmpeg's av_image_check_size: (w + 128) * (h + 128) must stay under INT_MAX / 8.
FFMPEG_MAX_AREA = (2**31 - 1) // 8


def check_decodable_size(path, height, width):
    """A declared size FFmpeg refuses to decode is "too large", not "truncated or corrupt"."""
    if height and width and (int(width) + 128) * (int(height) + 128) >= FFMPEG_MAX_AREA:
        raise DataError(path, f"declares a frame size of {width}x{height}, too large to decode: FFmpeg decodes frames of "
                              f"at most about {int(FFMPEG_MAX_AREA ** 0.5) - 128}x{int(FFMPEG_MAX_AREA ** 0.5) - 128}"
                              " pixels")


def png_size(path):
    """(height, width) from a PNG's IHDR header, None for other files."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return height, width
