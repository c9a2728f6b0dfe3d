"""Face stages: detect (MTCNN) -> follow (detect every few frames, carry the faces in
between) -> track (link, fill gaps, smooth, hold a still face still) -> align (crop to a
template) -> blend (paste a translated crop back). facenet-pytorch (slow to import) loads
when a FaceDetector is made."""

from vidswap.faces.align import Alignment, align_face, face_template, fit_frame, umeyama, warp_to_crop, warp_to_frame
from vidswap.faces.blend import crop_mask, match_color, paste_back, paste_region
from vidswap.faces.detect import Detection, FaceDetector
from vidswap.faces.follow import FaceFollower
from vidswap.faces.track import (
    OneEuroFilter,
    Track,
    TrackAgreement,
    compare_tracks,
    hold_still,
    select_tracks,
    smooth_track,
    track_faces,
)

__all__ = [
    "Alignment",
    "Detection",
    "FaceDetector",
    "FaceFollower",
    "OneEuroFilter",
    "Track",
    "TrackAgreement",
    "align_face",
    "compare_tracks",
    "crop_mask",
    "face_template",
    "fit_frame",
    "hold_still",
    "match_color",
    "paste_back",
    "paste_region",
    "select_tracks",
    "smooth_track",
    "track_faces",
    "umeyama",
    "warp_to_crop",
    "warp_to_frame",
]
