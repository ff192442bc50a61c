"""EfficientNet-Lite in plain TensorFlow ops, built from a PyTorch-layout state dict.

Lite differs from EfficientNet-B*: ReLU6, no squeeze-excite, and the 32-channel stem and
1280-channel head are not scaled with width. Convolutions use TensorFlow "SAME" padding (the
weights come from the TF reference, which pads stride-2 layers bottom/right). Each BatchNorm is
folded into the convolution before it, with the packaged running statistics and eps 1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .stages import Stage

BN_EPS = 1e-3


def _fold(state: dict[str, np.ndarray], conv: str, bn: str, depthwise: bool = False):
    """Conv weight [out, in/groups, kh, kw] + BatchNorm -> TF kernel and bias."""
    weight = state[f"{conv}.weight"].astype(np.float64)
    gamma, beta = state[f"{bn}.weight"], state[f"{bn}.bias"]
    mean, var = state[f"{bn}.running_mean"], state[f"{bn}.running_var"]
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + BN_EPS)
    weight = weight * scale[:, None, None, None]
    bias = beta - mean * scale
    # depthwise: [C, 1, kh, kw] -> [kh, kw, C, 1]; regular: [out, in, kh, kw] -> [kh, kw, in, out]
    kernel = weight.transpose(2, 3, 0, 1) if depthwise else weight.transpose(2, 3, 1, 0)
    return kernel.astype(np.float32), bias.astype(np.float32)


@dataclass(frozen=True)
class _Block:
    stride: int
    expand: bool
    skip: bool


class EfficientNetLite(tf.Module):
    """``features(images)`` -> (n, 1280) pooled features; ``logits(features)`` -> (n, 1000).
    ``images`` are NHWC float32, already scaled to ``(x - 127) / 128``."""

    def __init__(self, state: dict[str, np.ndarray], stages: tuple[Stage, ...]) -> None:
        super().__init__(name="efficientnet_lite")
        self.blocks: list[_Block] = []
        weights: dict[str, tuple[np.ndarray, np.ndarray]] = {
            "stem": _fold(state, "_conv_stem", "_bn0"),
            "head": _fold(state, "_conv_head", "_bn1"),
        }
        index = 0
        for stage in stages:
            for repeat in range(stage.repeats):
                prefix = f"_blocks.{index}"
                channels_in = stage.channels_in if repeat == 0 else stage.channels_out
                stride = stage.stride if repeat == 0 else 1
                if stage.expand != 1:
                    weights[f"b{index}_expand"] = _fold(
                        state, f"{prefix}._expand_conv", f"{prefix}._bn0"
                    )
                weights[f"b{index}_dw"] = _fold(
                    state, f"{prefix}._depthwise_conv", f"{prefix}._bn1", depthwise=True
                )
                weights[f"b{index}_project"] = _fold(
                    state, f"{prefix}._project_conv", f"{prefix}._bn2"
                )
                self.blocks.append(
                    _Block(
                        stride, stage.expand != 1, stride == 1 and channels_in == stage.channels_out
                    )
                )
                index += 1
        packaged = {key.split(".")[1] for key in state if key.startswith("_blocks.")}
        if len(packaged) != index:
            raise ValueError(f"state dict has {len(packaged)} blocks, the architecture {index}")
        self.kernels = {
            name: tf.Variable(k, trainable=False, name=f"{name}_kernel")
            for name, (k, _) in weights.items()
        }
        self.biases = {
            name: tf.Variable(b, trainable=False, name=f"{name}_bias")
            for name, (_, b) in weights.items()
        }
        self.fc_kernel = tf.Variable(
            state["_fc.weight"].T.astype(np.float32), trainable=False, name="fc_kernel"
        )
        self.fc_bias = tf.Variable(
            state["_fc.bias"].astype(np.float32), trainable=False, name="fc_bias"
        )

    def _conv(self, x: tf.Tensor, name: str, stride: int = 1, relu: bool = True) -> tf.Tensor:
        x = tf.nn.conv2d(x, self.kernels[name], strides=stride, padding="SAME")
        x = tf.nn.bias_add(x, self.biases[name])
        return tf.nn.relu6(x) if relu else x

    def _depthwise(self, x: tf.Tensor, name: str, stride: int) -> tf.Tensor:
        x = tf.nn.depthwise_conv2d(
            x, self.kernels[name], strides=[1, stride, stride, 1], padding="SAME"
        )
        return tf.nn.relu6(tf.nn.bias_add(x, self.biases[name]))

    def features(self, images: tf.Tensor) -> tf.Tensor:
        x = self._conv(images, "stem", stride=2)
        for index, block in enumerate(self.blocks):
            inputs = x
            if block.expand:
                x = self._conv(x, f"b{index}_expand")
            x = self._depthwise(x, f"b{index}_dw", block.stride)
            x = self._conv(x, f"b{index}_project", relu=False)
            if block.skip:
                x = x + inputs
        x = self._conv(x, "head")
        return tf.reduce_mean(x, axis=[1, 2])

    def logits(self, features: tf.Tensor) -> tf.Tensor:
        return tf.matmul(features, self.fc_kernel) + self.fc_bias
