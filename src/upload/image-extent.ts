/** Where the virtual disk's data lives in an image file; shared by the format readers and the disk reader. */

/** `length` bytes of the virtual disk at `virtualOffset` are stored in the file at `fileOffset`. */
export interface ImageExtent {
  virtualOffset: number
  fileOffset: number
  length: number
}
