"""The ground floor: reading and writing photos (RAW via rawpy, JPEG/PNG/TIFF with the bit depth
kept), EXIF, RAW development, DNG writing and the sRGB transfer function. Every stage imports
it; it imports no stage."""
