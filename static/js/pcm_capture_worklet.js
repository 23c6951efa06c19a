// AudioWorklet processor: copies the first input channel to the main thread in blocks of about 20 ms.
// Resampling and framing happen on the main thread (mobile_api_client.js) where they can be tested.

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    // 1024 samples: about 21 ms at 48 kHz; fewer messages than the 128-sample render quantum.
    this.block = new Float32Array(1024);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      let offset = 0;
      while (offset < channel.length) {
        const take = Math.min(channel.length - offset, this.block.length - this.filled);
        this.block.set(channel.subarray(offset, offset + take), this.filled);
        this.filled += take;
        offset += take;
        if (this.filled === this.block.length) {
          this.port.postMessage(this.block.slice());
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor('pcm-capture', PcmCapture);
