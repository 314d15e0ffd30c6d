"""Board pictures of the games: one RGB frame per position, for ``dlfrontier eval --gif`` of game-playing runs.

The first player's stones are red, the second player's yellow; the stone just played has a dark ring. Connect Four
boards are drawn as the blue frame with holes; tic-tac-toe and Gomoku as a light board with grid lines. A caption
strip under the board names the players and, on the last frame, the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlfrontier.games.base import Game, State
from dlfrontier.games.connect4 import Connect4

FIRST, SECOND = (220, 50, 50), (240, 200, 40)  # stone colours of the first and second player
CAPTION_HEIGHT = 22


def stones(game: Game, s: State) -> np.ndarray:
    """``int8[rows, cols]``: 1 where the first player has a stone, 2 the second, 0 empty (top row first)."""
    planes = game.encode(s)
    first, second = (planes[0], planes[1]) if game.to_move(s) == 0 else (planes[1], planes[0])
    return (first > 0.5).astype(np.int8) + 2 * (second > 0.5).astype(np.int8)


def draw_board(game: Game, s: State, *, last: tuple[int, int] | None = None, caption: str = "",
               cell: int | None = None, min_width: int = 0) -> np.ndarray:
    """``uint8[H, W, 3]``: the position ``s``; ``last``: the (row, column) of the stone just played; ``cell``:
    pixels per cell (default: 40, more on boards under 6 columns); the picture is at least ``min_width`` wide and
    wide enough for the caption (the board centred)."""
    from PIL import Image, ImageDraw

    board = stones(game, s)
    rows, cols = board.shape
    cell = cell or max(40, 240 // cols)
    gravity = isinstance(game, Connect4)
    width, height = cols * cell, rows * cell
    text_width = int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(caption)) + 8 if caption else 0
    total = max(width, text_width, min_width)
    x0 = (total - width) // 2
    img = Image.new("RGB", (total, height + CAPTION_HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle([x0, 0, x0 + width - 1, height - 1], fill=(40, 90, 200) if gravity else (238, 220, 180))
    if not gravity:
        for k in range(1, cols):
            draw.line([x0 + k * cell, 0, x0 + k * cell, height], fill=(90, 70, 50), width=2)
        for k in range(1, rows):
            draw.line([x0, k * cell, x0 + width, k * cell], fill=(90, 70, 50), width=2)
    pad = max(2, cell // 8)
    for r in range(rows):
        for c in range(cols):
            box = [x0 + c * cell + pad, r * cell + pad, x0 + (c + 1) * cell - pad, (r + 1) * cell - pad]
            colour = {1: FIRST, 2: SECOND}.get(int(board[r, c]), (255, 255, 255) if gravity else None)
            if colour is not None:
                draw.ellipse(box, fill=colour)
            if last == (r, c):
                draw.ellipse(box, outline=(20, 20, 20), width=max(2, cell // 12))
    if caption:
        draw.text((4, height + 5), caption, fill=(0, 0, 0))
    return np.asarray(img)


def game_frames(game: Game, moves: Sequence[int], names: tuple[str, str], result: str = "") -> list[np.ndarray]:
    """Frames of a game from the initial position through ``moves``; ``names``: the first and second player;
    ``result`` goes on the last frame's caption."""
    s = game.initial()
    caption = f"{names[0]} (red) vs {names[1]} (yellow)"
    final = f"{caption}: {result}" if result and len(moves) else caption
    wide = draw_board(game, s, caption=final).shape[1]  # every frame as wide as the widest caption
    frames = [draw_board(game, s, caption=caption, min_width=wide)]
    for i, a in enumerate(moves):
        before = stones(game, s)
        s = game.play(s, int(a))
        after = stones(game, s)
        changed = np.argwhere((before == 0) & (after != 0))
        last = (int(changed[0][0]), int(changed[0][1])) if len(changed) else None
        text = final if i == len(moves) - 1 else caption
        frames.append(draw_board(game, s, last=last, caption=text, min_width=wide))
    return frames


def write_game_gif(game: Game, moves: Sequence[int], names: tuple[str, str], path: str | Path, result: str = "",
                   seconds_per_move: float = 0.8) -> Path:
    """An animated GIF of one game (:func:`game_frames`), each position shown ``seconds_per_move``, the last one
    three times as long."""
    from dlfrontier.rl.atari.play import write_gif

    frames = game_frames(game, moves, names, result)
    frames += [frames[-1]] * 2  # hold the final position
    return write_gif(frames, path, fps=1.0 / seconds_per_move, colors=16)


__all__ = ["draw_board", "game_frames", "stones", "write_game_gif"]
