"""Frame names of a graph in a namespace (no heavy imports: video_source uses them too)."""

DEFAULT_CAMERA_FRAME = 'camera_optical_frame'


def namespace_prefix(namespace: str) -> str:
    """The frame prefix of a node namespace: '/cam1' -> 'cam1/', '/' -> ''.

    Two graphs in two namespaces then publish distinct frames on the one global /tf.
    """
    namespace = namespace.strip('/')
    return f'{namespace}/' if namespace else ''


def camera_frame(namespace: str) -> str:
    """The camera frame used where none is given (video_source, images without frame_id)."""
    return namespace_prefix(namespace) + DEFAULT_CAMERA_FRAME
