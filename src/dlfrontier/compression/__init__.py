"""Model compression: pruning, weight sharing, Huffman coding, a real compressed file format, binary and int8.

Implements Han, Mao and Dally, "Deep Compression: Compressing Deep Neural Networks with Pruning, Trained
Quantization and Huffman Coding", ICLR 2016, https://arxiv.org/abs/1510.00149, plus binary weights
(BinaryConnect / XNOR-Net BWN) and int8 quantization. Typical use::

    from dlfrontier.compression import prune_to_density, share_weights, compress, decompress
    prune_to_density(model, {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26})   # then retrain: masks stay
    share_weights(model, 5)                                             # then fine-tune the centroids
    data = compress(model)                  # bytes: relative indices + codebooks, Huffman-coded
    same = decompress(data)                 # a plain model with bit-identical predictions
"""

from dlfrontier.compression.binary import BinaryWeight, binarize
from dlfrontier.compression.fileformat import (
    ARCHITECTURES,
    TensorInfo,
    compress,
    decompress,
    load_compressed,
    save_compressed,
    size_breakdown,
)
from dlfrontier.compression.huffman import huffman_code_lengths, huffman_decode, huffman_encode
from dlfrontier.compression.kmeans import kmeans_1d
from dlfrontier.compression.layers import compressible_layers, strip_transforms
from dlfrontier.compression.prune import Masked, densities, prune, prune_to_density
from dlfrontier.compression.sharing import SharedWeight, share_weights
from dlfrontier.compression.sparse import from_relative, to_relative
from dlfrontier.compression.state import clone, restore, snapshot

__all__ = [
    "ARCHITECTURES",
    "BinaryWeight",
    "Masked",
    "SharedWeight",
    "TensorInfo",
    "binarize",
    "clone",
    "compress",
    "compressible_layers",
    "decompress",
    "densities",
    "from_relative",
    "huffman_code_lengths",
    "huffman_decode",
    "huffman_encode",
    "kmeans_1d",
    "load_compressed",
    "prune",
    "prune_to_density",
    "restore",
    "save_compressed",
    "share_weights",
    "size_breakdown",
    "snapshot",
    "strip_transforms",
    "to_relative",
]
