package ringtrainpb

// ProtocolVersion is the version of the messages in this package that
// workers send in RegisterRequest. Raise it with every change that a node
// of the previous release would misread or ignore.
const ProtocolVersion = 2
