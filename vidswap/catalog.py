"""The pretrained generators that the CycleGAN and CUT projects publish, as data: what
`vidswap models pull NAME` fetches and `vidswap models --available` lists.

A published model is stored under its catalog name like any other model; an alias
(`van_gogh`) names the same stored model. `sha256` pins the generator file's checksum where
one is known; otherwise the first pull's is recorded in the model card and later pulls must
match it (trust on first use).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from vidswap.errors import ModelError


@dataclass(frozen=True)
class Project:
    title: str
    home: str  # the project's code, where its pretrained models are documented


@dataclass(frozen=True)
class PublishedModel:
    name: str
    project: str  # a key of PROJECTS
    source: str  # domain A: what the generator takes
    target: str  # domain B: what it makes
    description: str
    url: str
    member: str | None = None  # the generator's path inside an archive (matched at its end)
    sha256: str | None = None  # of the generator file (for an archive: of its member)
    aliases: tuple[str, ...] = ()

    @property
    def direction(self) -> str:
        return f"{self.source} -> {self.target}"


PROJECTS = {
    "cyclegan": Project("CycleGAN", "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix"),
    "cut": Project("CUT", "https://github.com/taesungp/contrastive-unpaired-translation"),
}

# scripts/download_cyclegan_model.sh of the CycleGAN project: one generator a file
_CYCLEGAN = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/"
# the CUT project's README: one archive holding its six generators
_CUT = "http://efrosgans.eecs.berkeley.edu/CUT/pretrained_models.tar"

CATALOG: tuple[PublishedModel, ...] = (
    PublishedModel(
        "style_monet",
        "cyclegan",
        "photo",
        "Monet painting",
        "paints a photo in Claude Monet's style",
        _CYCLEGAN + "style_monet.pth",
        aliases=("monet",),
    ),
    PublishedModel(
        "style_cezanne",
        "cyclegan",
        "photo",
        "Cezanne painting",
        "paints a photo in Paul Cezanne's style",
        _CYCLEGAN + "style_cezanne.pth",
        aliases=("cezanne",),
    ),
    PublishedModel(
        "style_ukiyoe",
        "cyclegan",
        "photo",
        "ukiyo-e print",
        "makes a photo a Japanese ukiyo-e woodblock print",
        _CYCLEGAN + "style_ukiyoe.pth",
        aliases=("ukiyoe",),
    ),
    PublishedModel(
        "style_vangogh",
        "cyclegan",
        "photo",
        "Van Gogh painting",
        "paints a photo in Vincent van Gogh's style",
        _CYCLEGAN + "style_vangogh.pth",
        aliases=("van_gogh", "vangogh"),
    ),
    PublishedModel(
        "monet2photo",
        "cyclegan",
        "Monet painting",
        "photo",
        "turns a Monet painting into a photo",
        _CYCLEGAN + "monet2photo.pth",
    ),
    PublishedModel(
        "horse2zebra", "cyclegan", "horse", "zebra", "puts zebra stripes on horses", _CYCLEGAN + "horse2zebra.pth"
    ),
    PublishedModel(
        "zebra2horse", "cyclegan", "zebra", "horse", "takes the stripes off zebras", _CYCLEGAN + "zebra2horse.pth"
    ),
    PublishedModel(
        "summer2winter_yosemite",
        "cyclegan",
        "summer",
        "winter",
        "Yosemite landscapes from summer to winter",
        _CYCLEGAN + "summer2winter_yosemite.pth",
    ),
    PublishedModel(
        "winter2summer_yosemite",
        "cyclegan",
        "winter",
        "summer",
        "Yosemite landscapes from winter to summer",
        _CYCLEGAN + "winter2summer_yosemite.pth",
    ),
    PublishedModel(
        "apple2orange", "cyclegan", "apple", "orange", "turns apples into oranges", _CYCLEGAN + "apple2orange.pth"
    ),
    PublishedModel(
        "orange2apple", "cyclegan", "orange", "apple", "turns oranges into apples", _CYCLEGAN + "orange2apple.pth"
    ),
    PublishedModel(
        "sat2map",
        "cyclegan",
        "satellite photo",
        "map",
        "draws a street map from an aerial photo",
        _CYCLEGAN + "sat2map.pth",
    ),
    PublishedModel(
        "map2sat",
        "cyclegan",
        "map",
        "satellite photo",
        "makes an aerial photo from a street map",
        _CYCLEGAN + "map2sat.pth",
    ),
    PublishedModel(
        "cityscapes_photo2label",
        "cyclegan",
        "street photo",
        "label map",
        "colours a street scene by object class (Cityscapes)",
        _CYCLEGAN + "cityscapes_photo2label.pth",
    ),
    PublishedModel(
        "cityscapes_label2photo",
        "cyclegan",
        "label map",
        "street photo",
        "makes a street scene from a class map (Cityscapes)",
        _CYCLEGAN + "cityscapes_label2photo.pth",
    ),
    PublishedModel(
        "facades_photo2label",
        "cyclegan",
        "facade photo",
        "label map",
        "colours a building facade by part (CMP Facades)",
        _CYCLEGAN + "facades_photo2label.pth",
    ),
    PublishedModel(
        "facades_label2photo",
        "cyclegan",
        "label map",
        "facade photo",
        "makes a building facade from a part map (CMP Facades)",
        _CYCLEGAN + "facades_label2photo.pth",
    ),
    PublishedModel(
        "iphone2dslr_flower",
        "cyclegan",
        "phone photo",
        "DSLR photo",
        "gives flower photos a DSLR's shallow depth of field",
        _CYCLEGAN + "iphone2dslr_flower.pth",
    ),
    PublishedModel(
        "horse2zebra_cut",
        "cut",
        "horse",
        "zebra",
        "puts zebra stripes on horses (CUT)",
        _CUT,
        member="horse2zebra_cut_pretrained/latest_net_G.pth",
    ),
    PublishedModel(
        "horse2zebra_fastcut",
        "cut",
        "horse",
        "zebra",
        "puts zebra stripes on horses (FastCUT)",
        _CUT,
        member="horse2zebra_fastcut_pretrained/latest_net_G.pth",
    ),
    PublishedModel(
        "cat2dog_cut",
        "cut",
        "cat",
        "dog",
        "turns cat faces into dog faces (CUT, AFHQ)",
        _CUT,
        member="cat2dog_cut_pretrained/latest_net_G.pth",
    ),
    PublishedModel(
        "cat2dog_fastcut",
        "cut",
        "cat",
        "dog",
        "turns cat faces into dog faces (FastCUT, AFHQ)",
        _CUT,
        member="cat2dog_fastcut_pretrained/latest_net_G.pth",
    ),
    PublishedModel(
        "cityscapes_cut",
        "cut",
        "label map",
        "street photo",
        "makes a street scene from a class map (CUT, Cityscapes)",
        _CUT,
        member="cityscapes_cut_pretrained/latest_net_G.pth",
    ),
    PublishedModel(
        "cityscapes_fastcut",
        "cut",
        "label map",
        "street photo",
        "makes a street scene from a class map (FastCUT, Cityscapes)",
        _CUT,
        member="cityscapes_fastcut_pretrained/latest_net_G.pth",
    ),
)

_BY_NAME = {entry.name: entry for entry in CATALOG} | {alias: entry for entry in CATALOG for alias in entry.aliases}


def published_name(name: str) -> str | None:
    """The catalog name for a catalog name or an alias (van_gogh -> style_vangogh); None for others."""
    entry = _BY_NAME.get(name)
    return entry.name if entry else None


def find_published(name: str) -> PublishedModel:
    """The catalog entry for a name or alias; an unknown name is one line with the nearest names."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    near = difflib.get_close_matches(name, list(_BY_NAME), n=3)
    hint = f"did you mean {', '.join(near)}? " if near else ""
    raise ModelError(f"no published model {name!r} ({hint}see `vidswap models --available`)")
