"""Rendering throughput of the chest phantom (``SyntheticChest_Dataset``), one process.

For each size: images/s of ``dataset[i]`` without masks, and with every mask
(``pathology_masks`` and ``semantic_masks``), over distinct indices (no cache hits).

Run: python benchmarks/synthetic_chest.py [--images 300] [--sizes 64 128 224]
"""

import argparse
import time

from xrayvision.datasets import SyntheticChest_Dataset


def images_per_second(dataset, count):
    start = time.perf_counter()
    for i in range(count):
        dataset[i]
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300, help="images rendered per measurement")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 224])
    args = parser.parse_args()
    print(f"{'size':>5} {'images/s':>10} {'with masks':>11}   ({args.images} images, prevalence 0.25 each)")
    for size in args.sizes:
        plain = SyntheticChest_Dataset(n=args.images, size=size, seed=0)
        masked = SyntheticChest_Dataset(n=args.images, size=size, seed=1, pathology_masks=True, semantic_masks=True)
        print(f"{size:>5} {images_per_second(plain, args.images):>10.0f} {images_per_second(masked, args.images):>11.0f}")


if __name__ == "__main__":
    main()
