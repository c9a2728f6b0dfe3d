"""Still images through apply: orientation, colour profile, EXIF and alpha kept, frame and
face mode, bad images, and the `vidswap apply` command on images (JSON included)."""

import json

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageOps

from tests.helpers import run_cli
from tests.photos import ROTATE_CW, grace_hopper, photo_crop, save_photo, srgb_profile
from vidswap.api import FaceSettings, Translator, TranslatorSettings
from vidswap.errors import InputError, NoFaceError
from vidswap.metrics import psnr


def load(path):
    with Image.open(path) as im:
        im.load()
        return im


def no_stray_files(folder, *expected):
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


def test_exif_orientation_is_applied_and_profile_and_exif_are_kept(tmp_path):
    stored = photo_crop(96, 64)  # as the camera stored it: on its side
    profile = srgb_profile()  # made once: its header holds the time it was made, to the second
    source = save_photo(tmp_path / "phone.jpg", stored, orientation=ROTATE_CW, icc=profile)
    result = Translator(model="identity").apply(source)
    assert result.output == tmp_path / "phone.vidswap.jpg" and result.frames == 1
    out = load(result.output)
    upright = np.asarray(ImageOps.exif_transpose(load(source)).convert("RGB"))
    assert out.size == (64, 96)  # turned upright: the tag is applied, not copied
    assert ExifTags.Base.Orientation not in out.getexif()  # so no viewer turns it again
    assert out.getexif()[ExifTags.Base.Make] == "vidswap-test"  # the rest of EXIF stays
    assert out.info["icc_profile"] == profile
    assert psnr(np.asarray(out.convert("RGB")), upright) > 35  # identity: only JPEG's loss


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_alpha_is_carried_over_where_the_format_holds_it(models, tmp_path, suffix):
    image = photo_crop(64, 48)
    alpha = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))  # a gradient
    source = save_photo(tmp_path / f"logo{suffix}", image, alpha=alpha)
    translator = Translator(model=str(models["frame"]), backend="torch")
    result = translator.apply(source, tmp_path / f"out{suffix}")
    out = load(result.output)
    assert out.mode == "RGBA" and not result.warnings
    assert np.array_equal(np.asarray(out.getchannel("A")), alpha)  # lossless alpha in PNG and WebP
    assert psnr(np.asarray(out.convert("RGB")), image) < 25  # the colour was translated
    jpeg = translator.apply(source, tmp_path / "flat.jpg")  # JPEG has no alpha: dropped, and said so
    assert load(jpeg.output).mode == "RGB"
    assert any("transparency was dropped" in w for w in jpeg.warnings)


@pytest.mark.slow  # MTCNN loads
def test_face_mode_changes_the_face_and_not_the_corners(models, tmp_path):
    photo = grace_hopper()[::2, ::2].copy()  # 300 x 256: her face about 100 px
    source = save_photo(tmp_path / "grace.png", photo)
    translator = Translator(TranslatorSettings(model=str(models["face"]), backend="torch"))
    out = np.asarray(load(translator.apply(source).output))
    assert out.shape == photo.shape
    assert np.array_equal(out[210:], photo[210:]) and np.array_equal(out[:, :25], photo[:, :25])  # off the face
    face = (slice(75, 150), slice(90, 170))
    assert psnr(out[face], photo[face]) < 30  # the face was translated and pasted back


def test_an_animated_image_gives_its_first_frame_and_says_so(tmp_path):
    frames = [Image.fromarray(photo_crop(64, 48)), Image.fromarray(photo_crop(64, 48)[::-1].copy())]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    result = Translator(model="identity").apply(tmp_path / "anim.webp")
    out = np.asarray(load(result.output).convert("RGB"))
    assert psnr(out, np.asarray(frames[0])) > 30 > psnr(out, np.asarray(frames[1]))
    assert any("only its first frame" in w for w in result.warnings)


def test_face_mode_without_a_face(models, tmp_path):
    sky = np.ascontiguousarray(grace_hopper()[:80, :120])  # background only
    source = save_photo(tmp_path / "sky.png", sky)
    with pytest.raises(NoFaceError, match="sky.png: no face found"):
        Translator(model=str(models["face"]), backend="torch").apply(source)
    no_stray_files(tmp_path, "sky.png")
    kept = Translator(model=str(models["face"]), backend="torch", face=FaceSettings(keep_faceless=True))
    result = kept.apply(source)
    assert np.array_equal(np.asarray(load(result.output)), sky)
    assert any("--keep-faceless" in w for w in result.warnings)


@pytest.mark.parametrize("damage", ["truncated", "not an image"])
def test_a_bad_image_is_one_line_and_nothing_is_written(tmp_path, capsys, damage):
    good = save_photo(tmp_path / "good.jpg", photo_crop())
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(good.read_bytes()[:600] if damage == "truncated" else b"hello\n" * 50)
    with pytest.raises(InputError, match="bad.jpg: not a readable image"):
        Translator(model="identity").apply(bad)
    code, out, err = run_cli(["apply", str(bad), "-m", "identity", "--json"], capsys)
    assert code == 2 and out == "" and "not a readable image" in err and "Traceback" not in err
    if damage == "not an image":  # known from its header, before any progress bar: the error alone
        assert err.strip().splitlines() == [
            f"vidswap: error: {bad}: not a readable image (cannot identify image file '{bad}')"
        ]
    no_stray_files(tmp_path, "good.jpg", "bad.jpg")


def test_apply_command_on_an_image(tmp_path, capsys):
    source = save_photo(tmp_path / "p.webp", photo_crop())
    code, out, err = run_cli(["apply", str(source), "-m", "identity", "--json", "--preview"], capsys)
    assert code == 0, err
    [record] = json.loads(out)  # stdout holds the JSON alone
    assert record["output"] == str(tmp_path / "p.vidswap.webp") and record["frames"] == 1
    assert record["state"] == "done" and record["warnings"] == []
    assert load(record["preview"]).size == (2 * 96, 64)  # input | output
    code, _, err = run_cli(["apply", str(source), "-m", "identity"], capsys)
    assert code == 2 and "exists" in err  # no silent overwrite (-y replaces)
    for argv, message in [(["--start", "1"], "apply to videos"), (["-o", str(tmp_path / "x.gif")], "must end in")]:
        code, _, err = run_cli(["apply", str(source), "-m", "identity", "-y", *argv], capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
