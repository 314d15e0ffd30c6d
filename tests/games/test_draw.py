"""Board pictures: stones of each player where the rules put them, one frame per position, the last move ringed."""

import numpy as np

from dlfrontier.games import make_game
from dlfrontier.games.draw import FIRST, SECOND, draw_board, game_frames, stones


def _count(frame, colour):
    return int((np.abs(frame.astype(int) - np.array(colour)).sum(-1) < 30).sum())


def test_stones_are_the_players_not_the_movers():
    game = make_game("connect4")
    s = game.initial()
    for a in (3, 3, 4):  # first: column 3 (bottom), second: column 3 on top, first: column 4 (bottom)
        s = game.play(s, a)
    board = stones(game, s)
    assert board[5, 3] == 1 and board[4, 3] == 2 and board[5, 4] == 1
    assert (board != 0).sum() == 3


def test_frames_of_a_game_show_each_move():
    game = make_game("tictactoe")
    moves = [4, 0, 8, 2, 1, 7, 6, 3, 5]  # a full board
    frames = game_frames(game, moves, ("a", "b"), result="draw")
    assert len(frames) == len(moves) + 1
    assert len({f.shape for f in frames}) == 1  # one size for the GIF, wide enough for the longest caption
    assert _count(frames[0], FIRST) == 0 and _count(frames[0], SECOND) == 0
    assert _count(frames[1], FIRST) > 50 and _count(frames[1], SECOND) == 0  # one red stone (ringed: just played)
    per_stone = _count(frames[2], FIRST)  # that red stone, no longer ringed, beside the yellow one just played
    assert per_stone > _count(frames[1], FIRST) and _count(frames[2], SECOND) > 50
    # the last frame: five red and four yellow stones (the ring of the last move covers a few pixels of one)
    assert abs(_count(frames[-1], FIRST) - 5 * per_stone) < per_stone
    assert abs(_count(frames[-1], SECOND) - 4 * per_stone) < per_stone
    ringed = draw_board(game, game.initial(), last=(1, 1))
    assert (ringed.astype(int).sum(-1) < 100).sum() > (draw_board(game, game.initial()).astype(int).sum(-1) < 100).sum()
