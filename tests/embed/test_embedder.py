import numpy as np

from beholder.embed import embed_images, load_backbone
from beholder.embed.cache import EmbeddingCache, hash_file
from tests.conftest import class_image, write_image


def test_embeddings_match_paths_and_skip_broken(tmp_path, tiny_backbone_file):
    good = [write_image(tmp_path / f"{i}.png", class_image(i, 0)) for i in range(3)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    paths = [str(good[0]), str(broken), str(good[1]), str(good[2])]

    result = embed_images(paths, load_backbone(str(tiny_backbone_file)), batch_size=2)

    assert result.paths == [str(p) for p in good]
    assert result.vectors.shape[0] == 3
    assert result.failures == {str(broken): "not an image"}
    assert np.isfinite(result.vectors).all()


def test_identical_files_get_identical_vectors(tmp_path, tiny_backbone_file):
    first = write_image(tmp_path / "a.png", class_image(1, 1))
    second = tmp_path / "b.png"
    second.write_bytes(first.read_bytes())

    result = embed_images(
        [str(first), str(second)], load_backbone(str(tiny_backbone_file))
    )

    np.testing.assert_array_equal(result.vectors[0], result.vectors[1])


def test_second_run_reads_cache(tmp_path, tiny_backbone_file):
    paths = [
        str(write_image(tmp_path / f"{i}.png", class_image(i, 2))) for i in range(4)
    ]
    backbone = load_backbone(str(tiny_backbone_file))
    cache_dir = tmp_path / "cache"

    first = embed_images(paths, backbone, cache_dir=cache_dir)
    second = embed_images(paths, backbone, cache_dir=cache_dir)

    assert first.n_from_cache == 0
    assert second.n_from_cache == 4
    np.testing.assert_allclose(first.vectors, second.vectors, rtol=1e-6)


def test_cache_is_keyed_by_content(tmp_path):
    path = write_image(tmp_path / "x.png", class_image(0, 0))
    cache = EmbeddingCache(tmp_path / "cache", "key")
    cache.put_many({hash_file(path): np.arange(4, dtype=np.float32)})

    write_image(path, class_image(1, 0))
    found = cache.get_many([hash_file(path)])
    cache.close()

    assert found == {}


def test_no_paths_gives_empty_result(tiny_backbone_file):
    result = embed_images([], load_backbone(str(tiny_backbone_file)))

    assert result.vectors.shape[0] == 0
    assert result.failures == {}
