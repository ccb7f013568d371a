// Original file: proto/transcode.proto


export interface Resume {
}

export interface Resume__Output {
}
