"""Image maths: decoding, selection, context crop, resize, feather, blend, colour match."""
