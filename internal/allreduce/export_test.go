package allreduce

import "google.golang.org/grpc"

// SetReceiveHook makes every call of s run hook after it applies a frame.
func SetReceiveHook(s *Service, hook func(step, offset int)) {
	s.receiveHook.Store(&hook)
}

// NextConn returns the connection to the next rank.
func NextConn(s *Service) *grpc.ClientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// ActiveCalls returns the number of calls that are using the ring.
func ActiveCalls(s *Service) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// BufferedFrames returns the number of data frames waiting in all inboxes.
func BufferedFrames(s *Service) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ib := range s.inboxes {
		n += ib.buffered()
	}
	return n
}
