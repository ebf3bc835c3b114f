"""One evaluation protocol for every self-supervised example.

On scikit-learn's plain digits, raw pixels already reach ~98% with kNN, so accuracy there proves
nothing about a representation. Every method is therefore evaluated on the hard digits (digits at
random positions and scales on a larger canvas, with clutter and noise), with two probes on frozen
features, and always against two baselines:

- **kNN**: cosine similarity, k = 20, votes weighted by exp(sim / 0.07) (InstDisc's and DINO's protocol);
- **linear probe**: multinomial logistic regression on standardised features (scikit-learn);

each with all training labels and with only a few labels per class, on the clean test images and on
test images under the method's own augmentations, for

(a) the trained encoder, (b) the same architecture at random initialisation, (c) raw pixels.

A method "works" when (a) clearly beats both (b) and (c); ``metrics.json`` records all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad as mg

KNN_K, KNN_TEMPERATURE = 20, 0.07


@dataclass
class EvalData:
    """Labelled hard digits for probing: a training pool, its few-label subset, and two test sets."""

    train_images: np.ndarray
    train_labels: np.ndarray
    few_index: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    test_augmented: np.ndarray


def make_eval_data(canvas: int = 32, labels_per_class: int = 10, augment=None, seed: int = 0,
                   max_train: int | None = None, max_test: int | None = None) -> EvalData:
    """Hard digits (train/test split of the source digits, no leakage) plus a few-label subset.

    ``augment`` (a batch transform) makes the augmented test set: one random view of each test image.
    ``max_train``/``max_test`` keep only the first images of each split (for the seconds-long smoke presets).
    """
    from minigrad.datasets import hard_digits

    train_x, train_y = hard_digits("train", canvas=canvas, seed=seed)
    test_x, test_y = hard_digits("test", canvas=canvas, seed=seed)
    if max_train is not None:
        train_x, train_y = train_x[:max_train], train_y[:max_train]
    if max_test is not None:
        test_x, test_y = test_x[:max_test], test_y[:max_test]
    rng = np.random.default_rng(seed)
    few = np.concatenate([rng.permutation(np.flatnonzero(train_y == c))[:labels_per_class] for c in range(10)])
    augmented = test_x if augment is None else np.asarray(augment(test_x), dtype=np.float32)
    return EvalData(train_x, train_y, np.sort(few), test_x, test_y, augmented)


@mg.no_grad()
def features(encoder, images: np.ndarray, device: str = "cpu", batch_size: int = 256) -> np.ndarray:
    """Frozen features of ``images`` (eval mode, no graph), as a float32 NumPy array."""
    was_training = encoder.training
    encoder.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = mg.tensor(images[start:start + batch_size], device=device)
        out.append(encoder(batch).cpu().numpy())
    encoder.train(was_training)
    return np.concatenate(out).astype(np.float32)


def knn_accuracy(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray,
                 k: int = KNN_K, temperature: float = KNN_TEMPERATURE, num_classes: int = 10) -> float:
    """Weighted kNN on cosine similarity: each of the k nearest votes exp(sim / T) for its class."""
    def unit(f):
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)

    sims = unit(test_f) @ unit(train_f).T
    k = min(k, len(train_f))
    nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    weights = np.exp(np.take_along_axis(sims, nearest, axis=1) / temperature)
    votes = np.zeros((len(test_f), num_classes))
    np.add.at(votes, (np.arange(len(test_f))[:, None], train_y[nearest]), weights)
    return float((votes.argmax(1) == test_y).mean())


def linear_probe_accuracy(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray) -> float:
    """Multinomial logistic regression (L-BFGS, C = 1) on standardised frozen features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    # A problem this small gains nothing from BLAS threads, and on a busy machine they make L-BFGS
    # many times slower (measured ~40x at load 12 on 2 cores): one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        scaler = StandardScaler().fit(train_f)
        probe = LogisticRegression(max_iter=2000, C=1.0)
        probe.fit(scaler.transform(train_f), train_y)
        return float(probe.score(scaler.transform(test_f), test_y))


def probe(train_f, train_y, few_index, test_f, test_y, test_aug_f) -> dict:
    """All probes for one set of features."""
    return {
        "knn": knn_accuracy(train_f, train_y, test_f, test_y),
        "knn_few_labels": knn_accuracy(train_f[few_index], train_y[few_index], test_f, test_y),
        "knn_augmented_test": knn_accuracy(train_f, train_y, test_aug_f, test_y),
        "linear": linear_probe_accuracy(train_f, train_y, test_f, test_y),
        "linear_few_labels": linear_probe_accuracy(train_f[few_index], train_y[few_index], test_f, test_y),
        "linear_augmented_test": linear_probe_accuracy(train_f, train_y, test_aug_f, test_y),
    }


def evaluate(encoder, random_encoder, data: EvalData, device: str = "cpu") -> dict:
    """Probe (a) the trained encoder, (b) the same architecture at random init and (c) raw pixels.

    Returns ``{"trained": {...}, "random_init": {...}, "raw_pixels": {...}, "works": bool,
    "margin": ...}``, where ``margin`` is the smallest lead of (a) over the better of (b) and (c)
    across the kNN and linear probes on the clean test set.
    """
    def flat(images):
        return images.reshape(len(images), -1)

    sources = {
        "trained": lambda x: features(encoder, x, device),
        "random_init": lambda x: features(random_encoder, x, device),
        "raw_pixels": flat,
    }
    results = {}
    for name, extract in sources.items():
        results[name] = probe(extract(data.train_images), data.train_labels, data.few_index,
                              extract(data.test_images), data.test_labels, extract(data.test_augmented))
    leads = [results["trained"][m] - max(results["random_init"][m], results["raw_pixels"][m])
             for m in ("knn", "linear", "knn_few_labels", "linear_few_labels")]
    results["margin"] = float(min(leads))
    results["works"] = bool(results["margin"] > 0.02)
    return results


def format_table(results: dict) -> str:
    """The three-way comparison as a small text table."""
    metrics = list(results["trained"])
    rows = [f"{'':<14}" + "".join(f"{m:>22}" for m in metrics)]
    for name in ("trained", "random_init", "raw_pixels"):
        rows.append(f"{name:<14}" + "".join(f"{results[name][m]:>22.3f}" for m in metrics))
    rows.append(f"works: {results['works']} (smallest lead of trained over both baselines: {results['margin']:+.3f})")
    return "\n".join(rows)
