"""minigrad.transforms: batch augmentations (geometry, colour, blur, noise) and the multi-view helpers."""

import math

import numpy as np
import pytest
import scipy.ndimage

import minigrad as mg
import minigrad.transforms as T


@pytest.fixture
def images():
    return np.random.default_rng(0).random((6, 3, 16, 16)).astype(np.float32)


def _same_image_batch(n=8, size=16):
    """n copies of one smooth image, so per-sample randomness shows as differences between samples."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    img = np.stack([x, y, x * y]).astype(np.float32)
    return np.repeat(img[None], n, axis=0)


RANDOM_TRANSFORMS = [
    lambda seed: T.RandomResizedCrop(12, generator=mg.Generator().manual_seed(seed)),
    lambda seed: T.RandomCrop(16, padding=4, seed=seed),
    lambda seed: T.RandomHorizontalFlip(seed=seed),
    lambda seed: T.RandomVerticalFlip(seed=seed),
    lambda seed: T.RandomRotation(30, seed=seed),
    lambda seed: T.RandomAffine(10, translate=(0.2, 0.2), scale=(0.8, 1.2), seed=seed),
    lambda seed: T.ColorJitter(0.4, 0.4, 0.4, 0.1, seed=seed),
    lambda seed: T.RandomGrayscale(0.5, seed=seed),
    lambda seed: T.GaussianBlur(5, seed=seed),
    lambda seed: T.RandomSolarize(0.5, seed=seed),
    lambda seed: T.GaussianNoise(sigma=0.1, seed=seed),
    lambda seed: T.RandomApply([T.ColorJitter(0.8, seed=seed)], p=0.5, seed=seed + 1),
]


# ----- common behaviour ---------------------------------------------------------------------------
@pytest.mark.parametrize("make", RANDOM_TRANSFORMS)
def test_random_transforms_deterministic_given_seed_and_in_range(make, images):
    a, b, other = make(0), make(0), make(1)
    out_a, out_b = a(images), b(images)
    np.testing.assert_array_equal(out_a, out_b)
    assert not np.array_equal(out_a, other(images))
    assert out_a.dtype == np.float32 and out_a.shape[:2] == images.shape[:2]
    assert out_a.min() >= 0.0 and out_a.max() <= 1.0  # [0, 1] is preserved (convex resampling, clipping)
    # the next call draws new parameters
    assert not np.array_equal(a(images), out_a)
    # a (C, H, W) image and a Tensor come back as what went in
    single = make(0)(images[0])
    assert single.shape[0] == 3 and single.ndim == 3
    tensor_out = make(0)(mg.tensor(images))
    assert isinstance(tensor_out, mg.Tensor)
    np.testing.assert_array_equal(tensor_out.numpy(), out_a)


@pytest.mark.parametrize(
    "transform",
    [T.RandomResizedCrop(16, seed=0), T.RandomRotation(45, seed=0), T.ColorJitter(0.5, 0.5, 0.5, 0.2, seed=0),
     T.GaussianBlur(5, sigma=(0.1, 3.0), seed=0), T.RandomAffine(0, translate=(0.3, 0.3), seed=0)],
)
def test_parameters_are_drawn_per_sample(transform):
    out = transform(_same_image_batch())
    distinct = {out[i].tobytes() for i in range(len(out))}
    assert len(distinct) > len(out) // 2


def test_global_seed_makes_unseeded_transforms_reproducible(images):
    aug = T.Compose([T.RandomResizedCrop(8), T.ColorJitter(0.4, 0.4), T.GaussianNoise(sigma=0.05)])
    mg.manual_seed(3)
    first = aug(images)
    mg.manual_seed(3)
    np.testing.assert_array_equal(aug(images), first)


def test_input_validation():
    flip = T.RandomHorizontalFlip()
    with pytest.raises(TypeError, match="floating-point.*uint8"):
        flip(np.zeros((1, 3, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(4, 4\)"):
        flip(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="NumPy/CuPy array or a minigrad Tensor"):
        flip([[0.0]])
    with pytest.raises(ValueError, match="either generator= or seed="):
        T.RandomHorizontalFlip(seed=1, generator=mg.Generator())
    with pytest.raises(TypeError, match="CPU mg.Generator"):
        T.RandomHorizontalFlip(generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="p must be a probability"):
        T.RandomGrayscale(p=1.5)


# ----- geometry ---------------------------------------------------------------------------------------
def test_flips(images):
    np.testing.assert_array_equal(T.hflip(T.hflip(images)), images)
    np.testing.assert_array_equal(T.vflip(T.vflip(images)), images)
    np.testing.assert_array_equal(T.hflip(images), images[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(images), T.hflip(images))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(images), images)
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(images), T.vflip(images))
    batch = np.random.default_rng(1).random((64, 1, 4, 4)).astype(np.float32)
    out = T.RandomHorizontalFlip(p=0.5, seed=0)(batch)
    flipped = np.array([np.array_equal(o, b[..., ::-1]) for o, b in zip(out, batch)])
    kept = np.array([np.array_equal(o, b) for o, b in zip(out, batch)])
    assert (flipped ^ kept).all() and 15 < flipped.sum() < 49


def test_full_scale_crop_and_zero_rotation_are_identity(images):
    full = T.RandomResizedCrop(16, scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    np.testing.assert_allclose(full(images), images, atol=1e-6)
    np.testing.assert_allclose(T.rotate(images, 0.0), images, atol=1e-6)
    np.testing.assert_allclose(T.RandomRotation((0.0, 0.0), seed=0)(images), images, atol=1e-6)
    np.testing.assert_allclose(T.resize(images, 16), images, atol=1e-6)


def test_rotation_direction_and_translation(images):
    # 90 degrees counter-clockwise is np.rot90 (exact: the sample points land on pixel centres)
    np.testing.assert_allclose(T.rotate(images, 90.0), np.rot90(images, 1, axes=(2, 3)), atol=1e-5)
    np.testing.assert_allclose(T.rotate(images, [90.0] * 6, interpolation="nearest"),
                               np.rot90(images, 1, axes=(2, 3)), atol=1e-6)
    shifted = T.affine(images, translate=(3, -2), fill=0.5)
    expected = np.full_like(images, 0.5)
    expected[:, :, : 16 - 2, 3:] = images[:, :, 2:, : 16 - 3]  # right by 3, up by 2
    np.testing.assert_allclose(shifted, expected, atol=1e-6)


def test_rotation_matches_grid_sample(images, torch_module):
    F = torch_module.nn.functional
    angle = math.radians(30.0)
    theta = torch_module.tensor([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]])
    grid = F.affine_grid(theta[None].repeat(6, 1, 1), (6, 3, 16, 16), align_corners=False)
    expected = F.grid_sample(torch_module.from_numpy(images), grid, mode="bilinear", padding_mode="zeros",
                             align_corners=False).numpy()
    np.testing.assert_allclose(T.rotate(images, 30.0), expected, atol=1e-5)


@pytest.mark.parametrize("box,size", [((3, 5, 10, 8), (16, 16)), ((2, 1, 14, 15), (6, 5)), ((0, 0, 16, 16), (7, 9))])
def test_resized_crop_matches_crop_then_interpolate(images, box, size, torch_module):
    top, left, h, w = box
    crop = torch_module.from_numpy(images[:, :, top : top + h, left : left + w].copy())
    expected = torch_module.nn.functional.interpolate(crop, size=size, mode="bilinear", align_corners=False,
                                                      antialias=True).numpy()
    np.testing.assert_allclose(T.resized_crop(images, top, left, h, w, size), expected, atol=1e-5)


def test_random_resized_crop_boxes_follow_scale_and_ratio():
    crop = T.RandomResizedCrop(8, scale=(0.2, 0.6), ratio=(0.5, 2.0), seed=0)
    top, left, h, w = crop.boxes(2000, 40, 60)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 40).all() and (left + w <= 60).all()
    area = h * w / (40 * 60)
    assert area.min() > 0.17 and area.max() < 0.64  # the scale range, up to rounding of the sides
    assert (w / h).min() > 0.45 and (w / h).max() < 2.2
    assert len(set(zip(top.tolist(), left.tolist()))) > 500  # positions vary
    # impossible requests fall back to the central box with the closest allowed ratio
    top, left, h, w = T.RandomResizedCrop(8, scale=(0.99, 1.0), ratio=(3.0, 4.0), seed=0).boxes(5, 10, 10)
    assert (w == 10).all() and (h == 3).all() and (top == 3).all() and (left == 0).all()
    out = T.RandomResizedCrop((5, 7), seed=0)(np.zeros((3, 1, 20, 20), dtype=np.float32))
    assert out.shape == (3, 1, 5, 7)
    with pytest.raises(ValueError, match="size"):
        T.RandomResizedCrop(0)
    with pytest.raises(ValueError, match="scale"):
        T.RandomResizedCrop(8, scale=(0.9, 0.1))


def test_random_crop_takes_windows_of_the_padded_image(images):
    out = T.RandomCrop(12, padding=2, seed=0)(images)
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for o, p in zip(out, padded):
        windows = [p[:, i : i + 12, j : j + 12] for i in range(9) for j in range(9)]
        assert any(np.array_equal(o, win) for win in windows)
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(30)(images)


# ----- colour ---------------------------------------------------------------------------------------------
def test_colour_adjustments(images):
    assert (T.adjust_brightness(images, 0.0) == 0).all()
    np.testing.assert_allclose(T.adjust_brightness(images, 1.0), images)
    flat = T.adjust_contrast(images, 0.0)
    gray_mean = T.rgb_to_grayscale(images).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(flat, np.broadcast_to(gray_mean[:, None, None, None], images.shape), atol=1e-6)
    gray = T.adjust_saturation(images, 0.0)
    np.testing.assert_allclose(gray[:, 0], gray[:, 1], atol=1e-6)
    np.testing.assert_allclose(gray[:, 0], 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2],
                               atol=1e-6)
    # per-sample factors
    two = T.adjust_brightness(images[:2], [0.0, 1.0])
    assert (two[0] == 0).all() and np.allclose(two[1], images[1])


def test_hue_rotation():
    red = np.zeros((1, 3, 2, 2), dtype=np.float32)
    red[:, 0] = 1.0
    green = np.roll(red, 1, axis=1)
    np.testing.assert_allclose(T.adjust_hue(red, 1 / 3), green, atol=1e-6)  # hue 0 -> 1/3: red -> green
    np.testing.assert_allclose(T.adjust_hue(red, 0.0), red, atol=1e-6)
    pale = (0.4 + 0.2 * np.random.default_rng(0).random((4, 3, 5, 5))).astype(np.float32)
    np.testing.assert_allclose(T.adjust_hue(T.adjust_hue(pale, 0.2), -0.2), pale, atol=1e-5)
    grays = np.repeat(np.random.default_rng(1).random((2, 1, 4, 4)), 3, axis=1).astype(np.float32)
    np.testing.assert_allclose(T.adjust_hue(grays, 0.3), grays, atol=1e-6)
    with pytest.raises(ValueError, match="hue_factor"):
        T.adjust_hue(red, 0.7)


def test_color_jitter_and_grayscale_on_one_and_three_channels(images):
    one = images[:, :1]
    jitter = T.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2, seed=0)
    out = jitter(one)
    assert out.shape == one.shape and 0 <= out.min() and out.max() <= 1 and not np.allclose(out, one)
    assert T.ColorJitter(seed=0)(images) is not None
    np.testing.assert_array_equal(T.ColorJitter(seed=0)(images), images)  # all components off
    gray = T.RandomGrayscale(p=1.0, seed=0)(images)
    np.testing.assert_allclose(gray, T.rgb_to_grayscale(images, 3), atol=1e-6)
    np.testing.assert_array_equal(T.RandomGrayscale(p=0.0)(images), images)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        T.rgb_to_grayscale(np.zeros((1, 2, 3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.6)
    with pytest.raises(ValueError, match="brightness"):
        T.ColorJitter(brightness=-0.1)


def test_solarize_threshold_semantics():
    x = np.linspace(0, 1, 11, dtype=np.float32).reshape(1, 1, 1, 11)
    out = T.solarize(x, 0.5)
    above = x >= 0.5
    np.testing.assert_allclose(out[above], 1 - x[above])
    np.testing.assert_array_equal(out[~above], x[~above])
    np.testing.assert_array_equal(T.solarize(x, 1.01), x)
    np.testing.assert_allclose(T.solarize(x, 0.0), 1 - x)
    np.testing.assert_allclose(T.RandomSolarize(0.5, p=1.0)(x), out)
    np.testing.assert_array_equal(T.RandomSolarize(0.5, p=0.0)(x), x)


# ----- blur, noise, normalisation ---------------------------------------------------------------------------
def test_blur_keeps_a_constant_image_and_matches_scipy(images):
    constant = np.full((3, 3, 10, 10), 0.3, dtype=np.float32)
    np.testing.assert_allclose(T.gaussian_blur(constant, 7, 2.0), constant, atol=1e-6)
    np.testing.assert_allclose(T.GaussianBlur(9, sigma=(0.5, 3.0), seed=0)(constant), constant, atol=1e-6)
    expected = scipy.ndimage.gaussian_filter(images.astype(np.float64), sigma=(0, 0, 1.5, 0.8), mode="mirror",
                                             radius=(0, 0, 2, 3))
    np.testing.assert_allclose(T.gaussian_blur(images, (5, 7), (1.5, 0.8)), expected, atol=1e-5)
    assert T.gaussian_blur(images, 5, 1.0).std() < images.std()
    with pytest.raises(ValueError, match="odd"):
        T.gaussian_blur(images, 4, 1.0)
    with pytest.raises(ValueError, match="positive"):
        T.GaussianBlur(3, sigma=(0.0, 1.0))


def test_gaussian_noise_statistics():
    x = np.full((4, 1, 64, 64), 0.5, dtype=np.float32)
    noisy = T.GaussianNoise(sigma=0.05, clip=False, seed=0)(x)
    difference = noisy - x
    assert abs(difference.mean()) < 0.005 and abs(difference.std() - 0.05) < 0.005
    clipped = T.GaussianNoise(sigma=1.0, seed=0)(x)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    with pytest.raises(ValueError, match="sigma"):
        T.GaussianNoise(sigma=-1)


def test_normalize(images):
    mean, std = (0.2, 0.5, 0.7), (0.1, 0.2, 0.4)
    out = T.Normalize(mean, std)(images)
    np.testing.assert_allclose(out, (images - np.array(mean)[:, None, None]) / np.array(std)[:, None, None],
                               rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="3 values for images with 1 channels"):
        T.normalize(images[:, :1], mean, std)
    with pytest.raises(ValueError, match="zero"):
        T.Normalize((0.5,), (0.0,))


# ----- combinators and self-supervised views ---------------------------------------------------------------------
def test_compose_and_random_apply(images):
    def pipeline(seed):
        return T.Compose([T.RandomResizedCrop(12, seed=seed), T.RandomHorizontalFlip(seed=seed + 1),
                          T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1, seed=seed + 2)], p=0.8, seed=seed + 3)])

    np.testing.assert_array_equal(pipeline(0)(images), pipeline(0)(images))
    assert not np.array_equal(pipeline(0)(images), pipeline(10)(images))
    assert "RandomResizedCrop" in repr(pipeline(0))
    np.testing.assert_array_equal(T.RandomApply(T.ColorJitter(0.9, seed=0), p=0.0)(images), images)
    np.testing.assert_array_equal(T.RandomApply(T.ColorJitter(0.9, seed=0), p=1.0)(images),
                                  T.ColorJitter(0.9, seed=0)(images))
    with pytest.raises(ValueError, match="keep the image size"):
        T.RandomApply(T.RandomResizedCrop(8), p=1.0)(images)
    with pytest.raises(TypeError, match="callable"):
        T.Compose([1])


def test_multi_view_and_two_views(images):
    views = T.MultiView(T.RandomResizedCrop(8, seed=0), n_views=3)(images)
    assert len(views) == 3 and all(v.shape == (6, 3, 8, 8) for v in views)
    assert not np.array_equal(views[0], views[1])  # independent draws
    a, b = T.TwoViews(T.RandomHorizontalFlip(p=1.0), T.RandomGrayscale(p=1.0))(images)
    np.testing.assert_array_equal(a, T.hflip(images))
    np.testing.assert_allclose(b, T.rgb_to_grayscale(images, 3), atol=1e-6)
    first = T.TwoViews(T.ColorJitter(0.5, seed=0))(images)
    second = T.TwoViews(T.ColorJitter(0.5, seed=0))(images)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    with pytest.raises(ValueError, match="n_views"):
        T.MultiView(T.hflip, T.vflip, n_views=2)


def test_multi_crop_counts_sizes_and_determinism(images):
    multi = T.MultiCrop(16, 6, n_local=5, seed=0)
    views = multi(images)
    assert len(views) == 7
    assert [v.shape for v in views] == [(6, 3, 16, 16)] * 2 + [(6, 3, 6, 6)] * 5
    again = T.MultiCrop(16, 6, n_local=5, seed=0)(images)
    assert all(np.array_equal(v, w) for v, w in zip(views, again))
    assert not np.array_equal(views[0], views[1])
    tensor_views = T.MultiCrop(16, 6, n_local=0, seed=0)(mg.tensor(images))
    assert len(tensor_views) == 2 and all(isinstance(v, mg.Tensor) for v in tensor_views)
    # asymmetric transforms per global crop (DINO), one for the local crops
    flipped = T.MultiCrop(8, 4, n_local=2, global_scale=(1.0, 1.0), global_transforms=[T.hflip, None],
                          local_transform=T.RandomGrayscale(p=1.0), seed=0)(images)
    np.testing.assert_allclose(flipped[0], T.hflip(flipped[1]), atol=1e-6)  # both crops are the whole image
    assert np.allclose(flipped[2][:, 0], flipped[2][:, 1])
    with pytest.raises(ValueError, match="1 global_transforms for 2"):
        T.MultiCrop(8, 4, global_transforms=[T.hflip])
