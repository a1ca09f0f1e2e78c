"""write_psd: the layers psd-tools and ImageMagick see, the composite, the recipe."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from psd_tools import PSDImage
from psd_tools.api.layers import Group, Layer
from psd_tools.constants import Resource, SectionDivider, Tag
from psd_tools.psd.image_resources import ImageResource

from builders import REGION, VARIANT_BOUNDS, make_result
from underpaint.results.layered import LayeredResult
from underpaint.results.png import flatten_variant
from underpaint.results.psd import (
    SELECTION_CHANNEL,
    XMP_NAMESPACE,
    read_psd_recipe,
    read_psd_replay,
    write_atomically,
    write_psd,
)


def _write(tmp_path: Path, result: LayeredResult | None = None) -> tuple[LayeredResult, Path]:
    result = result or make_result()
    path = tmp_path / "result.psd"
    write_psd(result, path)
    return result, path


def _group(psd: PSDImage) -> Group:
    group = list(psd)[1]
    assert isinstance(group, Group)
    return group


def _layers_top_first(psd: PSDImage) -> list[Layer]:
    return list(reversed(list(_group(psd))))


def _rgba(image: object) -> np.ndarray:
    return np.asarray(image)


def test_document_is_the_region_size(tmp_path: Path) -> None:
    _, path = _write(tmp_path)
    psd = PSDImage.open(path)
    assert psd.size == (REGION.width, REGION.height)
    assert (psd.depth, psd.channels) == (8, 4)  # RGB and the saved selection


def test_the_selection_is_saved_as_a_named_channel_as_photoshop_saves_one(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    psd = PSDImage.open(path)
    assert list(psd.image_resources.get_data(Resource.ALPHA_NAMES_UNICODE)) == [SELECTION_CHANNEL]
    assert list(psd.image_resources.get_data(Resource.ALPHA_IDENTIFIERS)) != [0]  # 0 would mean transparency
    assert np.array_equal(np.asarray(psd.topil(channel=3)), result.selection)
    _, background, selection = read_psd_replay(path)
    assert np.array_equal(selection, result.selection) and np.array_equal(background, result.source)


def test_the_saved_selection_follows_the_transparency_of_a_see_through_composite(tmp_path: Path) -> None:
    result = make_result()
    assert result.source is not None
    source = result.source.copy()
    source[:, :10, 3] = 0
    result, path = _write(tmp_path, dataclasses.replace(result, source=source))
    assert np.array_equal(read_psd_replay(path)[2], result.selection)
    assert _identify(path, "%A|%[fx:p{0,0}.a]\n")[0] == "True|0"


def test_imagemagick_does_not_take_the_saved_selection_for_transparency(tmp_path: Path) -> None:
    _, path = _write(tmp_path)
    assert _identify(path, "%A\n")[0] == "False"


def test_a_generate_result_has_no_selection_channel(tmp_path: Path) -> None:
    _, path = _write(tmp_path, make_result(with_source=False))
    assert PSDImage.open(path).channels == 3 and read_psd_replay(path)[2] is None


def test_background_then_one_group_with_a_layer_per_variant(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    top_level = list(PSDImage.open(path))
    assert [layer.kind for layer in top_level] == ["pixel", "group"]
    assert top_level[0].name == "Background"
    assert top_level[1].name == result.group_name
    assert [layer.kind for layer in top_level[1]] == ["pixel"] * 3


def test_records_are_ordered_as_photoshop_writes_a_group(tmp_path: Path) -> None:
    _, path = _write(tmp_path)
    records = PSDImage.open(path)._record.layer_and_mask_information.layer_info.layer_records
    dividers = []
    for record in records:
        setting = record.tagged_blocks.get_data(Tag.SECTION_DIVIDER_SETTING)
        dividers.append(None if setting is None else setting.kind)
    # Bottom to top: background, the group's closing divider, the variants, the open folder.
    assert dividers == [
        None,
        SectionDivider.BOUNDING_SECTION_DIVIDER,
        None,
        None,
        None,
        SectionDivider.OPEN_FOLDER,
    ]


def test_first_variant_is_on_top_of_the_group(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    names = [layer.name for layer in _layers_top_first(PSDImage.open(path))]
    assert names == [variant.name for variant in result.layers]


def test_layers_sit_at_their_bounds_relative_to_the_region(tmp_path: Path) -> None:
    _, path = _write(tmp_path)
    for layer in _layers_top_first(PSDImage.open(path)):
        assert (layer.left, layer.top) == (VARIANT_BOUNDS.x - REGION.x, VARIANT_BOUNDS.y - REGION.y)
        assert (layer.width, layer.height) == (VARIANT_BOUNDS.width, VARIANT_BOUNDS.height)


def test_visibility_follows_the_variants(tmp_path: Path) -> None:
    result, path = _write(tmp_path, make_result(visible_index=1))
    visible = [layer.visible for layer in _layers_top_first(PSDImage.open(path))]
    assert visible == [variant.visible for variant in result.layers] == [False, True, False]


def test_layer_pixels_equal_the_variant_pixels(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    for layer, variant in zip(_layers_top_first(PSDImage.open(path)), result.layers, strict=True):
        np.testing.assert_array_equal(_rgba(layer.topil()), variant.pixels)


def test_masks_hold_the_variant_masks_at_the_layer_bounds(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    for layer, variant in zip(_layers_top_first(PSDImage.open(path)), result.layers, strict=True):
        assert layer.has_mask()
        mask = layer.mask
        assert (mask.left, mask.top, mask.width, mask.height) == (
            layer.left,
            layer.top,
            layer.width,
            layer.height,
        )
        assert mask.background_color == 0
        np.testing.assert_array_equal(_rgba(mask.topil()), variant.mask)


def test_background_is_the_source(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    assert result.source is not None
    background = next(iter(PSDImage.open(path)))
    assert (background.left, background.top) == (0, 0)
    np.testing.assert_array_equal(_rgba(background.topil()), result.source)


def test_generate_job_gets_a_white_background(tmp_path: Path) -> None:
    _, path = _write(tmp_path, make_result(with_source=False))
    background = _rgba(next(iter(PSDImage.open(path))).topil())
    assert background.shape == (REGION.height, REGION.width, 4)
    assert (background == 255).all()


def test_composite_equals_the_flattened_visible_variant(tmp_path: Path) -> None:
    result, path = _write(tmp_path, make_result(visible_index=2))
    composite = _rgba(PSDImage.open(path).topil())
    np.testing.assert_array_equal(composite, flatten_variant(result, 2)[..., :3])


def test_composite_outside_the_mask_is_the_source_bit_for_bit(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    assert result.source is not None
    composite = _rgba(PSDImage.open(path).topil())
    outside = np.ones((REGION.height, REGION.width), dtype=bool)
    x, y = VARIANT_BOUNDS.x - REGION.x, VARIANT_BOUNDS.y - REGION.y
    outside[y : y + VARIANT_BOUNDS.height, x : x + VARIANT_BOUNDS.width] = result.layers[0].mask == 0
    np.testing.assert_array_equal(composite[outside], result.source[..., :3][outside])


def test_transparent_source_keeps_a_merged_alpha(tmp_path: Path) -> None:
    plain = make_result()
    assert plain.source is not None
    source = plain.source.copy()
    source[:5, :, 3] = 0
    result, path = _write(tmp_path, dataclasses.replace(plain, source=source))
    psd = PSDImage.open(path)
    assert psd.channels == 5  # RGB, the composite's transparency, the saved selection
    assert psd._record.layer_and_mask_information.layer_info.layer_count < 0
    np.testing.assert_array_equal(_rgba(psd.topil()), flatten_variant(result, 0))


def test_unicode_names_survive(tmp_path: Path) -> None:
    result, path = _write(tmp_path, make_result(prompt="cerf-volant 🪁 über Hügel"))
    psd = PSDImage.open(path)
    assert _group(psd).name == result.group_name
    assert [layer.name for layer in _layers_top_first(psd)] == [variant.name for variant in result.layers]


def test_recipe_round_trips(tmp_path: Path) -> None:
    result, path = _write(tmp_path, make_result(prompt='quotes " and <tags> & ümlauts'))
    assert read_psd_recipe(path) == result.recipe


def test_recipe_is_in_the_xmp_resource(tmp_path: Path) -> None:
    _, path = _write(tmp_path)
    xmp = PSDImage.open(path).image_resources.get_data(Resource.XMP_METADATA)
    assert XMP_NAMESPACE.encode() in xmp
    assert b"<underpaint:recipe>" in xmp


def test_recipe_is_read_from_an_attribute_as_adobe_rewrites_it(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    psd = PSDImage.open(path)
    quoted = result.recipe.to_json().replace("&", "&amp;").replace('"', "&quot;").replace("\n", "&#xA;")
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Photoshop"/>'
        f'<rdf:Description rdf:about="" xmlns:underpaint="{XMP_NAMESPACE}" underpaint:recipe="{quoted}"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    psd.image_resources[Resource.XMP_METADATA] = ImageResource(key=Resource.XMP_METADATA, data=xmp.encode())
    psd.save(path)
    assert read_psd_recipe(path) == result.recipe


def test_xmp_with_entity_expansion_is_refused_not_expanded(tmp_path: Path) -> None:
    _, path = _write(tmp_path)
    psd = PSDImage.open(path)
    laughs = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
              + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
              + ']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>')
    psd.image_resources[Resource.XMP_METADATA] = ImageResource(key=Resource.XMP_METADATA, data=laughs.encode())
    psd.save(path)
    with pytest.raises(ValueError, match="unreadable XMP"):
        read_psd_recipe(path)


def test_missing_recipe_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.psd"
    PSDImage.new("RGB", (8, 8)).save(path)
    with pytest.raises(ValueError, match="recipe"):
        read_psd_recipe(path)


def test_write_leaves_only_the_psd(tmp_path: Path) -> None:
    _write(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["result.psd"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "result.psd"
    path.write_bytes(b"old")

    def broken(file: object) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.psd"]


def _identify(path: Path, fmt: str) -> list[str]:
    if shutil.which("identify") is None:
        pytest.fail("ImageMagick's `identify` is missing; `make test` installs imagemagick")
    run = subprocess.run(["identify", "-format", fmt, str(path)], capture_output=True, text=True, check=True)
    return run.stdout.splitlines()


def test_imagemagick_sees_the_composite_then_one_frame_per_layer(tmp_path: Path) -> None:
    result, path = _write(tmp_path)
    frames = _identify(path, "%w %h %X %Y|%l|%[psd:layer.invisible]\n")
    x, y = VARIANT_BOUNDS.x - REGION.x, VARIANT_BOUNDS.y - REGION.y
    w, h = VARIANT_BOUNDS.width, VARIANT_BOUNDS.height
    # IM6 skips group records and lists layers bottom to top, after the composite.
    assert frames == [
        f"{REGION.width} {REGION.height} +0 +0||",
        f"{REGION.width} {REGION.height} +0 +0|Background|",
        *(
            f"{w} {h} +{x} +{y}|{variant.name}|{'' if variant.visible else 'true'}"
            for variant in reversed(result.layers)
        ),
    ]


def test_imagemagick_applies_the_layer_masks(tmp_path: Path) -> None:
    _, path = _write(tmp_path)
    alphas = _identify(path, "%[fx:p{0,0}.a] %[fx:p{24,18}.a]\n")
    # Variant frames: the soft ellipse leaves the corner transparent and the centre opaque.
    assert alphas[2:] == ["0 1"] * 3
